package pipeline

import "testing"

func TestPlainHTTP(t *testing.T) {
	insecure := InsecureHosts([]string{"Reg.Example:5000", " plain.example "})
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost": true, "LOCALHOST:80": true, "app.localhost:1": true, "[::1]:5000": true, "127.1.2.3": true,
		"reg.example:5000": true, "reg.example:5001": false, "reg.example": false,
		"plain.example": true, "plain.example:443": true,
		"192.168.1.10:5000": false, "registry.example.com": false, "0.0.0.0:5000": false,
	} {
		if got := PlainHTTP(host, insecure); got != want {
			t.Errorf("PlainHTTP(%q) = %v; want %v", host, got, want)
		}
	}
}
