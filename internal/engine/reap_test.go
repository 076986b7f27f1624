package engine

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// lateAnswers returns an Engine whose calls to the real engine answer,
// for the paths ending with one of suffixes, only after delay: the engine
// has done the work, the answer is late.
func lateAnswers(t *testing.T, delay time.Duration, suffixes ...string) *Engine {
	t.Helper()
	return engineVia(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			for _, s := range suffixes {
				if strings.HasSuffix(r.URL.Path, s) {
					time.Sleep(delay)
				}
			}
		})
	})
}

// engineVia serves the engine's API on a unix socket of its own, through
// wrap's handler around a proxy to the real engine, and returns an Engine
// that talks through it: the seam where a test injects a fault.
func engineVia(t *testing.T, wrap func(next http.Handler) http.Handler) *Engine {
	t.Helper()
	host := testenv.DockerHost(t)
	if !strings.HasPrefix(host, "unix://") {
		t.Skip("the proxy needs the engine on a unix socket")
	}
	sock := strings.TrimPrefix(host, "unix://")
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(&url.URL{Scheme: "http", Host: "docker"}) },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
	}
	path := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: wrap(proxy)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e, err := New(t.Context(), Options{Host: "unix://" + path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// callCounter is an Engine through a proxy of its own that counts the
// calls by path, with the real engine behind.
type callCounter struct {
	mu    sync.Mutex
	paths map[string]int
}

// count returns how many calls had a path ending with suffix.
func (c *callCounter) count(suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.paths {
		if strings.HasSuffix(p, suffix) {
			n += k
		}
	}
	return n
}

func countingEngine(t *testing.T) (*Engine, *callCounter) {
	t.Helper()
	c := &callCounter{paths: map[string]int{}}
	e := engineVia(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			c.paths[r.URL.Path]++
			c.mu.Unlock()
			next.ServeHTTP(w, r)
		})
	})
	return e, c
}

// TestReapListsImagesOfBuildsThatMadeThem: a build's Reap removes the
// image a build in its name made (as an autotest service's), and does not
// list the engine's images at all for a build that made none (the slowest
// list, seconds on a busy engine); a Reap by instance always looks.
func TestReapListsImagesOfBuildsThatMadeThem(t *testing.T) {
	t.Parallel()
	e, calls := countingEngine(t)
	id := uniqueID(t)
	none := pipeline.Owner{Instance: id, Build: 6}
	n, err := e.Reap(t.Context(), none.Labels())
	if err != nil || n != (pipeline.Reaped{}) {
		t.Fatalf("Reap of a build that made nothing = %+v, %v", n, err)
	}
	if got := calls.count("/images/json"); got != 0 {
		t.Errorf("Reap of a build that built no image listed the images %d times, want 0", got)
	}

	owner := pipeline.Owner{Instance: id, Build: 7}
	ctx := pipeline.WithOwner(t.Context(), owner)
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id)})
	tag := id + "-svc:build"
	var log bytes.Buffer
	if _, err := e.Build(ctx, pipeline.BuildSpec{ContextDir: dir, Tags: []string{tag}, Labels: pipeline.WithLabels(ctx, map[string]string{testLabel: id})}, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), tag) })
	n, err = e.Reap(t.Context(), none.Labels())
	if err != nil || n != (pipeline.Reaped{}) || calls.count("/images/json") != 0 {
		t.Errorf("Reap of another build = %+v, %v, after %d image lists; want nothing and no list", n, err, calls.count("/images/json"))
	}
	n, err = e.Reap(t.Context(), owner.Labels())
	if err != nil || n.Images != 1 {
		t.Errorf("Reap of the build that built %s = %+v, %v; want its image removed", tag, n, err)
	}
	if ok, err := e.ImageExists(t.Context(), tag); ok || err != nil {
		t.Errorf("ImageExists(%s) after the Reap = %v, %v", tag, ok, err)
	}

	// By instance: every build of it, and what a killed process left.
	before := calls.count("/images/json")
	if _, err := e.Reap(t.Context(), map[string]string{pipeline.LabelInstance: id}); err != nil {
		t.Fatal(err)
	}
	if calls.count("/images/json") == before {
		t.Error("Reap by instance did not look for images")
	}
}

// TestCreateCancelledLosesNothing: a cancel that lands while the engine
// makes a container or a network leaves neither behind.
func TestCreateCancelledLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildBusybox(t, e, id)
	late := lateAnswers(t, time.Second, "/containers/create", "/networks/create")
	tests := map[string]func(ctx context.Context) error{
		"StartContainer": func(ctx context.Context) error {
			_, err := late.StartContainer(ctx, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "60"}, Labels: map[string]string{testLabel: id}})
			return err
		},
		"Run": func(ctx context.Context) error {
			_, err := late.Run(ctx, pipeline.RunSpec{Image: image, Cmd: []string{"sleep", "60"}, Labels: map[string]string{testLabel: id}}, nil)
			return err
		},
		"CreateNetwork": func(ctx context.Context) error {
			_, err := late.CreateNetwork(ctx, id, map[string]string{testLabel: id})
			return err
		},
	}
	for name, call := range tests {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := call(ctx)
		cancel()
		if err == nil {
			t.Errorf("%s with a cancel during the create succeeded", name)
		}
		if n, nw := countLabelled(t, e, id), countNetworks(t, e, id); n != 0 || nw != 0 {
			t.Errorf("%s cancelled during the create left %d containers and %d networks", name, n, nw)
			removeLabelled(t, e, id)
			_, _ = e.Reap(context.Background(), map[string]string{testLabel: id})
		}
	}
}

// TestReapByOwner: what a build's context owns carries its owner's labels,
// and Reap removes it all, and nothing of another owner.
func TestReapByOwner(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildBusybox(t, e, id)
	mine := pipeline.WithOwner(t.Context(), pipeline.Owner{Instance: id, Build: 7})
	theirs := pipeline.WithOwner(t.Context(), pipeline.Owner{Instance: id + "-other", Build: 7})
	labels := map[string]string{testLabel: id}
	var keep string
	for i, ctx := range []context.Context{mine, theirs} {
		nid, err := e.CreateNetwork(ctx, id+"-"+string(rune('a'+i)), labels)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.RemoveNetwork(context.Background(), nid) })
		cid, err := e.StartContainer(ctx, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "60"}, Network: nid, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.RemoveContainer(context.Background(), cid) }) // before its network's
		keep = cid
	}
	ins, err := e.cli.ContainerInspect(t.Context(), keep, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ins.Container.Config.Labels; got[pipeline.LabelInstance] != id+"-other" || got[pipeline.LabelBuild] != "7" || got[testLabel] != id {
		t.Errorf("labels %v; want the owner's and the caller's", got)
	}
	n, err := e.Reap(t.Context(), map[string]string{pipeline.LabelInstance: id})
	if err != nil || n != (pipeline.Reaped{Containers: 1, Networks: 1}) {
		t.Errorf("Reap = %+v, %v; want 1 container and 1 network", n, err)
	}
	if c, nw := countLabelled(t, e, id), countNetworks(t, e, id); c != 1 || nw != 1 {
		t.Errorf("after Reap: %d containers and %d networks labelled; want the other owner's 1 and 1", c, nw)
	}
	if _, err := e.Reap(t.Context(), nil); err == nil {
		t.Error("Reap without labels did not refuse")
	}
}
