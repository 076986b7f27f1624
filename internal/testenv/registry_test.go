package testenv

import (
	"net/http"
	"testing"
	"time"
)

func TestDockerRegistry(t *testing.T) {
	var addr string
	t.Run("running", func(t *testing.T) {
		addr = DockerRegistry(t)
		if code := getV2(addr); code != http.StatusOK {
			t.Fatalf("GET http://%s/v2/ = %d, want 200", addr, code)
		}
	})
	if addr == "" {
		return // skipped
	}
	if code := getV2(addr); code != 0 {
		t.Errorf("docker-registry at %s still answers (%d) after its test ended", addr, code)
	}
}

// getV2 returns the status of GET /v2/, 0 when nothing answers.
func getV2(addr string) int {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/v2/")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
