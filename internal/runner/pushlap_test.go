package runner_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/checks"
	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// pushGate is the fault seam: a proxy in front of a real registry that
// holds each PUT of a :test manifest (the end of the push of NAME:test)
// until held returns false, or refuses it when deny is set. Reads, blob
// uploads and the delivery's tags pass.
type pushGate struct {
	held     func() bool
	deny     bool
	released atomic.Bool // a held PUT went on because held said so, not at the 60 s limit
	puts     atomic.Int32
}

func (g *pushGate) serve(t *testing.T, backend string) string {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/test") {
			g.puts.Add(1)
			if g.deny {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"pushes are refused here (test)"}]}`))
				return
			}
			for limit := time.Now().Add(time.Minute); g.held != nil && g.held(); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(limit) {
					break
				}
			}
			if g.held != nil && !g.held() {
				g.released.Store(true)
			}
		}
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// newPushLap returns a runner with the real engine, the real checks and
// a registry behind g, and a project whose busybox image's test-script
// (trusted: on the host) touches marker.
func newPushLap(t *testing.T, g *pushGate, job, marker string) (*runner.Runner, *sqlite.Store, pipeline.Project, string) {
	t.Helper()
	ctx := t.Context()
	e, err := engine.New(ctx, engine.Options{Host: testenv.DockerHost(t)})
	must(t, err)
	t.Cleanup(func() { e.Close() })
	rctx, cancel := context.WithCancel(context.Background())
	srv, err := registry.Serve(rctx, registry.ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir()})
	must(t, err)
	t.Cleanup(func() { cancel(); srv.Close() })
	host := g.serve(t, srv.Addr())

	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	instance := "test-pushlap-" + hex.EncodeToString(rnd)
	repo := testenv.GitRepo(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY rootfs/ /\nLABEL io.hoist.fixture=" + instance + "\nCMD [\"sleep\", \"600\"]\n",
		"cccp.yml":   "job-id: " + job + "\ntest-script: test.sh\n",
		"test.sh":    "#!/bin/sh\ntouch " + marker + "\necho the test-script ran\n",
	})
	testenv.BusyboxRootfs(t, repo)
	testenv.Commit(t, repo, nil, "busybox")
	p := pipeline.Project{AppID: "demo", JobID: job, Tag: "latest", GitURL: repo, GitBranch: "main", GitPath: "/", TargetFile: "Dockerfile", BuildContext: "./"}
	t.Cleanup(func() {
		_, _ = e.Reap(context.Background(), map[string]string{pipeline.LabelInstance: instance})
		_ = e.RemoveImage(context.Background(), host+"/demo/"+job+":test")
	})
	reg := registry.New(registry.Options{})
	tester := checks.New(checks.Deps{Engine: e, Containers: e, Layers: reg, Scripts: &script.Runner{}}, checks.Options{StayUp: 2 * time.Second})
	st := openStore(t)
	must(t, st.PutProject(ctx, p))
	r := runner.New(runner.Deps{Source: source.New(), Engine: e, Registry: reg, Tester: tester,
		Scripts: &script.Runner{}, RepoConfigs: index.RepoConfigs{}, Dockerfiles: dockerfile.Reader{}, Reaper: e, Store: st},
		runner.Options{RegistryHost: host, WorkDir: t.TempDir(), Instance: instance,
			Trusted: func(pipeline.Project) bool { return true }})
	return r, st, p, host
}

// TestChecksRunWhileTheImageIsPushed: the push of NAME:test runs beside
// the test stage: the test-script (which runs the image from the engine's
// copy) starts while the registry still holds back the push's manifest,
// and the checks that read the registry's copy run once it is there, on
// exactly the pushed digest, which is delivered.
func TestChecksRunWhileTheImageIsPushed(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "script-started")
	g := &pushGate{held: func() bool { _, err := os.Stat(marker); return err != nil }}
	r, st, p, host := newPushLap(t, g, "pushlap", marker)
	b, err := r.Run(t.Context(), p, "test", inputs(t, st, p, 0, nil, false))
	must(t, err)
	test := readLog(t, st, b.ID, pipeline.StageTest)
	if b.Status != pipeline.StatusSucceeded {
		t.Fatalf("build %s in %s %q, want succeeded; test log:\n%s", b.Status, b.FailedStage, b.Reason, test)
	}
	if !g.released.Load() {
		t.Errorf("the push's manifest PUT waited its whole minute: the test-script did not start before the push ended (%d manifest PUT(s))", g.puts.Load())
	}
	ref := host + "/demo/pushlap:test"
	build := readLog(t, st, b.ID, pipeline.StageBuild)
	if want := "pushing " + ref + " beside the test stage"; !strings.Contains(build, want) {
		t.Errorf("build log lacks %q:\n%s", want, build)
	}
	for _, want := range []string{
		ref + " is in the registry as " + b.Digest,
		"read the files of " + ref,
		"--- PASS test-script",
		"pushed " + ref + "@" + b.Digest + "\n",
	} {
		if !strings.Contains(test, want) {
			t.Errorf("test log lacks %q:\n%s", want, test)
		}
	}
	res, err := st.CheckResults(t.Context(), b.ID)
	must(t, err)
	got := map[string]pipeline.CheckStatus{}
	for _, r := range res {
		got[r.ID] = r.Status
	}
	// The checks that read the registry's copy saw it: its files, its
	// configuration (the fixture's label, the CMD).
	for _, id := range []string{"secrets", "starts", checks.UserScriptID} {
		if got[id] != pipeline.CheckPass {
			t.Errorf("check %s: %q, want pass (results %v); test log:\n%s", id, got[id], got, test)
		}
	}
	if s, ok := got["no-hard-coded-passwords"]; !ok || s == pipeline.CheckFail {
		t.Errorf("check no-hard-coded-passwords: %q, want it to have read the image's files (results %v)", s, got)
	}
	if b.Digest == "" || b.Image != host+"/demo/pushlap:latest" {
		t.Errorf("delivered %s@%s, want %s/demo/pushlap:latest at the pushed digest", b.Image, b.Digest, host)
	}
}

// TestFailedPushFailsTheBuild: a push of NAME:test that the registry
// refuses fails the build in its test stage, saying so, and nothing is
// scanned or delivered.
func TestFailedPushFailsTheBuild(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "script-started")
	g := &pushGate{deny: true}
	r, st, p, host := newPushLap(t, g, "pushfail", marker)
	start := time.Now()
	b, err := r.Run(t.Context(), p, "test", inputs(t, st, p, 0, nil, false))
	must(t, err)
	test := readLog(t, st, b.ID, pipeline.StageTest)
	ref := host + "/demo/pushfail:test"
	want := "pushing " + ref + " failed: "
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageTest || !strings.HasPrefix(b.Reason, want) || !strings.Contains(b.Reason, "denied") {
		t.Fatalf("build %s in %s %q, want failed in test: %q…denied; test log:\n%s", b.Status, b.FailedStage, b.Reason, want, test)
	}
	if !strings.Contains(test, "\ntest failed: "+want) {
		t.Errorf("test log lacks %q:\n%s", "test failed: "+want, test)
	}
	if s := stageOf(t, st, b.ID, pipeline.StageBuild); s.Status != pipeline.StatusSucceeded {
		t.Errorf("build stage %s %q, want succeeded (the push's outcome is the test stage's)", s.Status, s.Error)
	}
	if s := stageOf(t, st, b.ID, pipeline.StageDeliver); s.Status != pipeline.StatusSkipped {
		t.Errorf("deliver stage %s, want skipped", s.Status)
	}
	imgs, err := st.Images(t.Context())
	must(t, err)
	if len(imgs) != 0 || b.Digest != "" {
		t.Errorf("delivered %+v (build digest %q), want nothing", imgs, b.Digest)
	}
	t.Logf("the build failed %s after it started", time.Since(start).Round(time.Millisecond))
}

// TestNextBuildReleasesTheImageBefore: the engine keeps a project's
// newest image only; the one its next build took the :test tag from is
// removed as that build ends (the registry holds what was delivered).
func TestNextBuildReleasesTheImageBefore(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "script-started")
	r, st, p, host := newPushLap(t, &pushGate{}, "release", marker)
	e, err := engine.New(t.Context(), engine.Options{Host: testenv.DockerHost(t)})
	must(t, err)
	defer e.Close()
	ref := host + "/demo/release:test"
	var ids []string
	for i, page := range []string{"one", "two"} {
		if i > 0 { // another last step: an image beside the first, not on it
			df, err := os.ReadFile(filepath.Join(p.GitURL, "Dockerfile"))
			must(t, err)
			testenv.Commit(t, p.GitURL, map[string]string{"Dockerfile": strings.Replace(string(df), `"600"`, `"601"`, 1)}, page)
		}
		b, err := r.Run(t.Context(), p, "test", inputs(t, st, p, 0, nil, false))
		must(t, err)
		if b.Status != pipeline.StatusSucceeded {
			t.Fatalf("build %d: %s in %s %q, want succeeded", i+1, b.Status, b.FailedStage, b.Reason)
		}
		cfg, err := e.InspectImage(t.Context(), ref)
		must(t, err)
		ids = append(ids, cfg.ID)
	}
	if ids[0] == ids[1] {
		t.Fatalf("both builds made %s", ids[0])
	}
	if ok, err := e.ImageExists(t.Context(), ids[0]); ok || err != nil {
		t.Errorf("the first build's image %s is still in the engine after the second build (%v)", ids[0], err)
	}
	if ok, err := e.ImageExists(t.Context(), ids[1]); !ok || err != nil {
		t.Errorf("the second build's image %s is gone (%v)", ids[1], err)
	}
}
