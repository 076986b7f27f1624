package source_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// headersThenStall answers git's first request with the headers of a ref
// advertisement and then sends nothing more.
func headersThenStall(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

// TestStalledServer checks out and reads the head of repositories whose
// server stops answering, with the real git: the low-speed limit ends git
// long before the context's deadline, with an error that says so.
func TestStalledServer(t *testing.T) {
	testenv.Git(t, "", "version") // skips without git
	servers := map[string]string{"silent": "http://" + testenv.SilentServer(t), "headers then stall": headersThenStall(t)}
	for name, base := range servers {
		url := base + "/repo"
		g := &source.Git{LowSpeedTime: 2 * time.Second}
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		start := time.Now()
		_, err := g.Checkout(ctx, url, "main", t.TempDir()+"/checkout", nil)
		_, herr := g.Head(ctx, url, "main")
		cancel()
		want := url + " stopped sending: git received nothing for 2s and gave up"
		for op, err := range map[string]error{"Checkout": err, "Head": herr} {
			if err == nil || !strings.HasPrefix(err.Error(), want) || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %s error = %v, want it to start with %q", name, op, err, want)
			}
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%s: Checkout and Head took %s with a 2s low-speed time", name, d)
		}
	}
}

// TestHeadTimeout reads the head of a repository whose server never
// answers: ls-remote ends with the context.
func TestHeadTimeout(t *testing.T) {
	testenv.Git(t, "", "version")
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := source.New().Head(ctx, "http://"+testenv.SilentServer(t)+"/repo", "main")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Head error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Head took %s after a 1s deadline", d)
	}
}
