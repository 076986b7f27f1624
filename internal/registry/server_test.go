package registry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeKeepsImagesAcrossRestarts(t *testing.T) {
	root := t.TempDir()
	s := serve(t, ServerConfig{Addr: "127.0.0.1:0", RootDir: root})
	want := pushImage(t, s.Addr()+"/ns/app:test")
	secret := readFile(t, filepath.Join(root, secretFile))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = serve(t, ServerConfig{Addr: "127.0.0.1:0", RootDir: root})
	defer s.Close()
	assertDigest(t, s.Addr()+"/ns/app:test", want)
	validateRemote(t, s.Addr()+"/ns/app:test")
	if got := readFile(t, filepath.Join(root, secretFile)); got != secret {
		t.Errorf("http secret changed across restarts: %q, then %q", secret, got)
	}
}

func TestServeAddressInUse(t *testing.T) {
	s := serve(t, ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir()})
	defer s.Close()
	_, err := Serve(context.Background(), ServerConfig{Addr: s.Addr(), RootDir: t.TempDir()})
	if err == nil {
		t.Fatal("second Serve on the same address succeeded")
	}
	for _, want := range []string{s.Addr(), "already in use", "--registry-addr 127.0.0.1:PORT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := serve(t, ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir()}, ctx)
	if code := getV2(s.Addr()); code != http.StatusOK {
		t.Fatalf("GET /v2/ = %d, want 200", code)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for getV2(s.Addr()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("registry still answers after its context was cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestServeCloseTwice(t *testing.T) {
	s := serve(t, ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir()})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestServeLogsAtDebugOnly(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := serve(t, ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir(), Logger: logger})
	pushImage(t, s.Addr()+"/ns/app:test")
	s.Close()
	if !strings.Contains(buf.String(), "component=registry") {
		t.Errorf("debug logger got no registry lines:\n%s", buf.String())
	}

	buf.Reset()
	logger = slog.New(slog.NewTextHandler(&buf, nil)) // info
	s = serve(t, ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir(), Logger: logger})
	pushImage(t, s.Addr()+"/ns/app:test")
	s.Close()
	if buf.Len() != 0 {
		t.Errorf("info logger got registry lines:\n%s", buf.String())
	}
}

// serve starts a Server and fails the test if it cannot.
func serve(t *testing.T, cfg ServerConfig, ctx ...context.Context) *Server {
	t.Helper()
	c := context.Background()
	if len(ctx) > 0 {
		c = ctx[0]
	}
	s, err := Serve(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// getV2 returns the status of GET /v2/, 0 when nothing answers.
func getV2(addr string) int {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + addr + "/v2/")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServeStorageIsPrivate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "registry")
	if err := os.MkdirAll(root, 0o755); err != nil { // as an older Hoist made it
		t.Fatal(err)
	}
	s, err := Serve(t.Context(), ServerConfig{Addr: "127.0.0.1:0", RootDir: root})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(root); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("registry storage %v, want 0700", fi.Mode())
	}
}
