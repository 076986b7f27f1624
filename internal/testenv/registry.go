package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// dockerRegistryBin is Debian's build of distribution v2.
const dockerRegistryBin = "/usr/bin/docker-registry"

// DockerRegistry starts /usr/bin/docker-registry (Debian's distribution v2)
// on a free 127.0.0.1 port with its storage in t.TempDir(), waits until
// /v2/ answers, stops it by its PID when the test ends, and returns its
// address, "127.0.0.1:PORT". Without the binary the test is skipped (failed
// in CI).
func DockerRegistry(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(dockerRegistryBin); err != nil {
		Missing(t, "no "+dockerRegistryBin+" (apt-get install docker-registry)")
	}
	dir := t.TempDir()
	var lastErr error
	for range 3 { // the free port may be taken between probing and binding
		addr, err := startDockerRegistry(t, dir)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	t.Fatalf("starting docker-registry: %v", lastErr)
	return ""
}

// startDockerRegistry runs one registry process with storage in dir.
func startDockerRegistry(t testing.TB, dir string) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(conf, []byte(registryConfig(dir, addr)), 0o600); err != nil {
		return "", err
	}
	out := &syncBuffer{}
	cmd := exec.Command(dockerRegistryBin, "serve", conf)
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no REGISTRY_* from the caller
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	if err := waitForV2(addr, exited); err != nil {
		cmd.Process.Kill()
		<-exited
		return "", fmt.Errorf("%w; its output:\n%s", err, out.String())
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // cmd.Process is the PID we started
		<-exited
	})
	return addr, nil
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func registryConfig(dir, addr string) string {
	root := filepath.Join(dir, "storage")
	return "version: 0.1\n" +
		"log:\n  level: error\n  accesslog:\n    disabled: true\n" +
		"storage:\n  filesystem:\n    rootdirectory: " + strconv.Quote(root) + "\n" +
		"  delete:\n    enabled: true\n" +
		"http:\n  addr: " + strconv.Quote(addr) + "\n  secret: hoist-test-secret\n"
}

// waitForV2 polls http://addr/v2/ until it answers 200, the process exits,
// or 10 s pass.
func waitForV2(addr string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("docker-registry on %s exited", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("docker-registry on %s did not answer /v2/ within 10s", addr)
}

// syncBuffer is a bytes.Buffer safe for the process's two output streams.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
