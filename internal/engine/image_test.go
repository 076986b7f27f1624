package engine

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// newRegistry serves an in-memory registry on 127.0.0.1, which the engine
// accepts over plain HTTP, and returns its host:port.
func newRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPushAndPullAs(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	host := newRegistry(t)
	ref := host + "/hoist/" + id + ":test"
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id)})
	var buildLog bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{ref}}, &buildLog); err != nil {
		t.Fatalf("Build: %v\n%s", err, buildLog.String())
	}

	var pushLog bytes.Buffer
	digest, err := e.Push(t.Context(), ref, &pushLog)
	if err != nil {
		t.Fatalf("Push: %v\n%s", err, pushLog.String())
	}
	parsed, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if digest != desc.Digest.String() {
		t.Errorf("Push = %s, registry has %s", digest, desc.Digest)
	}
	if lines := strings.Count(pushLog.String(), "\n"); lines > 20 {
		t.Errorf("push log has %d lines, want progress collapsed:\n%s", lines, pushLog.String())
	}

	// Remove the local copy so that PullAs really pulls.
	if _, err := e.cli.ImageRemove(t.Context(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		t.Fatal(err)
	}
	byDigest := host + "/hoist/" + id + "@" + digest
	alias := id + ":alias"
	var pullLog bytes.Buffer
	if err := e.PullAs(t.Context(), byDigest, alias, &pullLog); err != nil {
		t.Fatalf("PullAs: %v\n%s", err, pullLog.String())
	}
	cfg, err := e.InspectImage(t.Context(), alias)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Labels[testLabel] != id {
		t.Errorf("pulled image labels = %v, want %s=%s", cfg.Labels, testLabel, id)
	}
}

func TestPushUnknownImage(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ref := newRegistry(t) + "/hoist/" + uniqueID(t) + ":missing"
	_, err := e.Push(t.Context(), ref, nil)
	if err == nil || !strings.Contains(err.Error(), "pushing "+ref) {
		t.Errorf("Push of a missing image: err = %v", err)
	}
}

func TestInspectImageNotFound(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	_, err := e.InspectImage(t.Context(), uniqueID(t)+":missing")
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("InspectImage of a missing image: err = %v, want pipeline.ErrNotFound", err)
	}
}

// TestPushRetriesRegistryErrors pushes to a registry that answers the
// first two manifest uploads 429 and 503: the engine does not retry those
// itself, Push does, and says so in the log.
func TestPushRetriesRegistryErrors(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	faults := []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		var code int
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && len(faults) > 0 {
			code, faults = faults[0], faults[1:]
		}
		mu.Unlock()
		if code != 0 {
			w.WriteHeader(code)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/hoist/" + id + ":test"
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id)})
	var buildLog bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{ref}}, &buildLog); err != nil {
		t.Fatalf("Build: %v\n%s", err, buildLog.String())
	}
	var pushLog bytes.Buffer
	digest, err := e.Push(t.Context(), ref, &pushLog)
	if err != nil {
		t.Fatalf("Push through 429 and 503: %v\n%s", err, pushLog.String())
	}
	if !strings.HasPrefix(digest, "sha256:") || strings.Count(pushLog.String(), "retrying in") != 2 {
		t.Errorf("Push = %q; want a digest after 2 retries, log:\n%s", digest, pushLog.String())
	}
}

// TestPullAsLocalDigest: a pinned FROM whose digest the engine has (it
// pushed it) is tagged without a pull, the registry not asked at all,
// and a second PullAs leaves the alias as it is; a tag is still pulled.
func TestPullAsLocalDigest(t *testing.T) {
	t.Parallel()
	e, calls := countingEngine(t)
	id := uniqueID(t)
	host := newRegistry(t)
	ref := host + "/hoist/" + id + ":test"
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id)})
	var buildLog bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{ref}}, &buildLog); err != nil {
		t.Fatalf("Build: %v\n%s", err, buildLog.String())
	}
	digest, err := e.Push(t.Context(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	byDigest := host + "/hoist/" + id + "@" + digest
	alias := id + "-base:1"
	// Podman's digests name its own manifests, not the registry's: it
	// always pulls (PullAs), so it is checked to pull each time.
	pulls, pullPath := 0, "/images/create"
	if e.podman {
		pulls, pullPath = 2, "/libpod/images/pull"
	}
	for i := range 2 {
		var log bytes.Buffer
		if err := e.PullAs(t.Context(), byDigest, alias, &log); err != nil {
			t.Fatalf("PullAs #%d: %v\n%s", i+1, err, log.String())
		}
		if !e.podman && !strings.Contains(log.String(), "in the engine") {
			t.Errorf("PullAs #%d log does not say the image was in the engine:\n%s", i+1, log.String())
		}
	}
	if n := calls.count(pullPath); n != pulls {
		t.Errorf("PullAs of a digest the engine has pulled %d times, want %d", n, pulls)
	}
	cfg, err := e.InspectImage(t.Context(), alias)
	if err != nil || cfg.Labels[testLabel] != id {
		t.Errorf("%s = %+v, %v; want the pushed image", alias, cfg, err)
	}
	// A tag may have moved since the engine saw it: pulled.
	if err := e.PullAs(t.Context(), ref, alias, nil); err != nil {
		t.Fatal(err)
	}
	if n := calls.count(pullPath); n != pulls+1 {
		t.Errorf("PullAs of a tag pulled %d times in all, want %d", n, pulls+1)
	}
}
