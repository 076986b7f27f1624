package testenv

import (
	"net"
	"testing"
	"time"
)

// TestSilentServer connects, writes a request and sees no answer within a
// read deadline: the server accepted and stayed silent.
func TestSilentServer(t *testing.T) {
	c, err := net.DialTimeout("tcp", SilentServer(t), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("read %d bytes, err %v; want a timeout from a silent server", n, err)
	}
}
