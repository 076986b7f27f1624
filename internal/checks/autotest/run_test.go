package autotest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/checks/autotest"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// testLabel marks the images the tests build themselves.
const testLabel = "org.hoistci.test"

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// env is the real engine and a raw client to count what runs left.
type env struct {
	e   *engine.Engine
	cli *client.Client
}

func newEnv(t *testing.T) env {
	t.Helper()
	host := testenv.DockerHost(t)
	e, err := engine.New(t.Context(), engine.Options{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cli, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return env{e: e, cli: cli}
}

// fixture is a checkout made of testdata/Dockerfile, a busybox rootfs and
// testdata/<name>, with the image under test built from it.
type fixture struct {
	repo   string
	image  string // the image under test
	marker string // what its /hoist-marker says
	spec   autotest.Spec
}

func newFixture(t *testing.T, env env, name string) fixture {
	t.Helper()
	repo := t.TempDir()
	copyTree(t, filepath.Join("testdata", name), repo)
	df, err := os.ReadFile(filepath.Join("testdata", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.BusyboxRootfs(t, repo)
	id := randomHex(6)
	f := fixture{repo: repo, image: "hoist-autotest-test-" + id + ":test", marker: "under-test-" + id}
	var log bytes.Buffer
	if _, err := env.e.Build(t.Context(), pipeline.BuildSpec{
		ContextDir: repo, Dockerfile: "Dockerfile", Tags: []string{f.image},
		Labels: map[string]string{testLabel: id}, BuildArgs: map[string]string{"MARKER": f.marker},
	}, &log); err != nil {
		t.Fatalf("building the image under test: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { _ = env.e.RemoveImage(context.Background(), f.image) })
	f.spec = autotest.Spec{
		File:       filepath.Join(repo, "docker-compose.test.yml"),
		Image:      f.image,
		Project:    pipeline.Project{AppID: "hoisttest", JobID: "app", Tag: "t" + id, GitBranch: "main"},
		TargetFile: filepath.Join(repo, "Dockerfile"),
		ContextDir: repo,
		Commit:     "c0ffee" + id,
		Timeout:    3 * time.Minute,
		RepoRoot:   repo,
	}
	return f
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// counts returns how many containers, networks and images carry the
// autotest project label of spec.
func (env env) counts(t *testing.T, spec autotest.Spec) [3]int {
	t.Helper()
	ctx := context.Background()
	f := make(client.Filters).Add("label", autotest.LabelProject+"="+spec.Project.Key())
	cs, err := env.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := env.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	is, err := env.cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return [3]int{len(cs.Items), len(ns.Items), len(is.Items)}
}

// run runs the fixture's autotest and checks that it left nothing behind.
func run(t *testing.T, env env, f fixture) (pipeline.CheckResult, string) {
	t.Helper()
	var log syncBuffer
	res := autotest.New(env.e).Run(t.Context(), f.spec, &log)
	if c := env.counts(t, f.spec); c != [3]int{} {
		t.Errorf("left behind: %d containers, %d networks, %d images", c[0], c[1], c[2])
	}
	if ok, err := env.e.ImageExists(t.Context(), f.image); !ok || err != nil {
		t.Errorf("the image under test is gone: %v %v", ok, err)
	}
	if res.ID != "autotest" || res.Group != pipeline.GroupAutotest || !res.Blocking || res.Location != "docker-compose.test.yml" || res.Duration <= 0 {
		t.Errorf("result = %+v", res)
	}
	return res, log.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func lacks(t *testing.T, what, s string, nots ...string) {
	t.Helper()
	for _, w := range nots {
		if strings.Contains(s, w) {
			t.Errorf("%s has %q:\n%s", what, w, s)
		}
	}
}

func TestRunPasses(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "pass")
	res, log := run(t, env, f)
	if res.Status != pipeline.CheckPass || res.Detail != "sut exited 0" {
		t.Fatalf("result %s: %s\n%s", res.Status, res.Detail, log)
	}
	// sut (build: .) ran the image under test, not a rebuild of it; web was
	// reached by its name and its alias; setup (image: the project's
	// repository) ran the image under test and completed first.
	contains(t, "output", res.Output, "marker="+f.marker, "sut sees IMAGE="+f.image+" COMMIT="+f.spec.Commit, "to-stderr")
	lacks(t, "output", res.Output, "marker=rebuilt")
	contains(t, "log", log,
		"service sut runs the image under test",
		"service setup runs the image under test",
		"building service web",
		"web (build) | ",
		"sut | marker="+f.marker,
		"sut | served-by-web",
		"sut | to-stderr",
		`service "sut": ports is ignored`,
		"waiting for setup to complete",
		"removed 3 containers, 1 networks and 1 images",
		"[autotest] pass: sut exited 0",
	)
	lacks(t, "log", log, "building service sut", "unused", "no-such-image-anywhere")
	t.Logf("log:\n%s", log)
}

func TestRunFails(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "fail")
	res, log := run(t, env, f)
	if res.Status != pipeline.CheckFail || res.Detail != "sut exited 3" {
		t.Fatalf("result %s: %s\n%s", res.Status, res.Detail, log)
	}
	contains(t, "output", res.Output, "checking\n", "broken\n")
	contains(t, "log", log, "sut | checking", "sut | broken", "removed 1 containers, 1 networks and 0 images")
}

func TestRunDependencyFails(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "dependency-fails")
	res, log := run(t, env, f)
	if res.Status != pipeline.CheckFail || res.Detail != "service migrate exited 4, and sut depends on it completing successfully" {
		t.Fatalf("result %s: %s\n%s", res.Status, res.Detail, log)
	}
	contains(t, "log", log, "migrate | migration failed")
	lacks(t, "log", log, "starting service sut")
}

func TestRunRefusesBadFiles(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tests := []struct {
		fixture string
		detail  string
	}{
		{"nosut", `docker-compose.test.yml:1:1: the file has no "sut" service`},
		{"unsupported", `docker-compose.test.yml:5:5: service "sut": volumes is not supported`},
		{"unavailable", "service db: image 127.0.0.1:1/hoist/absent:1 is not available: "},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			f := newFixture(t, env, tt.fixture)
			res, log := run(t, env, f)
			if res.Status != pipeline.CheckFail || !strings.Contains(res.Detail, tt.detail) {
				t.Errorf("result %s: %q; want a failure with %q\n%s", res.Status, res.Detail, tt.detail, log)
			}
			lacks(t, "log", log, "starting service")
		})
	}
}

func TestRunCancelledLeavesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "cancel")
	before := env.counts(t, f.spec)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var log syncBuffer
	go func() {
		// Cancel once both services run: sut printing means its start
		// returned and its output is followed.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) && !strings.Contains(log.String(), "sut | up") {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	res := autotest.New(env.e).Run(ctx, f.spec, &log)
	if res.Status != pipeline.CheckFail || !strings.HasPrefix(res.Detail, "cancelled") {
		t.Errorf("result %s: %q; want a cancelled failure\n%s", res.Status, res.Detail, log.String())
	}
	contains(t, "log", log.String(), "starting service db", "starting service sut", "sut | up", "removed 2 containers, 1 networks and 1 images")
	if after := env.counts(t, f.spec); after != before || after != [3]int{} {
		t.Errorf("before %v, after %v containers/networks/images", before, after)
	}
	if d := time.Since(start); d > 2*time.Minute {
		t.Errorf("Run took %v after cancel", d)
	}
}

// lossyEngine stands for an engine call that a cancel cut short after the
// engine made the container: the container exists, but its ID never
// reached the caller.
type lossyEngine struct {
	*engine.Engine
	cancel context.CancelFunc
}

func (l lossyEngine) StartContainer(ctx context.Context, spec pipeline.ContainerSpec) (string, error) {
	id, err := l.Engine.StartContainer(ctx, spec)
	if err == nil && spec.Labels[autotest.LabelService] == "sut" {
		l.cancel()
		return "", context.Canceled
	}
	return id, err
}

// TestRunCancelledFindsLostContainers: what the run made is found by its
// label, not only by the IDs its calls returned.
func TestRunCancelledFindsLostContainers(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "cancel")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var log syncBuffer
	res := autotest.New(lossyEngine{env.e, cancel}).Run(ctx, f.spec, &log)
	if res.Status != pipeline.CheckFail || !strings.HasPrefix(res.Detail, "cancelled") {
		t.Errorf("result %s: %q; want a cancelled failure\n%s", res.Status, res.Detail, log.String())
	}
	contains(t, "log", log.String(), "removed 2 containers, 1 networks and 1 images")
	if after := env.counts(t, f.spec); after != [3]int{} {
		t.Errorf("left behind %v containers/networks/images", after)
	}
}

func TestRunTimesOut(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "fail")
	// sut sleeps beyond the timeout.
	if err := os.WriteFile(f.spec.File, []byte("services:\n  sut:\n    build: .\n    command: [sleep, '300']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.spec.Timeout = 3 * time.Second
	res, log := run(t, env, f)
	if res.Status != pipeline.CheckFail || !strings.Contains(res.Detail, "did not finish within 3s") {
		t.Errorf("result %s: %q\n%s", res.Status, res.Detail, log)
	}
}

// A service image the engine lacks is pulled by its reference, a digest
// included, with no local name of Hoist's.
func TestRunPullsAMissingServiceImage(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "unavailable")
	id := randomHex(6)
	ref := testenv.DockerRegistry(t) + "/hoist/autotest-svc-" + id
	var log bytes.Buffer
	if _, err := env.e.Build(t.Context(), pipeline.BuildSpec{
		ContextDir: f.repo, Dockerfile: "Dockerfile", Tags: []string{ref + ":1"},
		Labels: map[string]string{testLabel: id}, BuildArgs: map[string]string{"MARKER": "svc-" + id},
	}, &log); err != nil {
		t.Fatalf("building the service image: %v\n%s", err, log.String())
	}
	digest, err := env.e.Push(t.Context(), ref+":1", &log)
	if err != nil {
		t.Fatalf("Push: %v\n%s", err, log.String())
	}
	if err := env.e.RemoveImage(t.Context(), ref+":1"); err != nil {
		t.Fatal(err)
	}
	byDigest := ref + "@" + digest
	t.Cleanup(func() { _ = env.e.RemoveImage(context.Background(), byDigest) })
	compose := "services:\n  sut:\n    build: .\n    command: [\"true\"]\n    depends_on:\n      db:\n        condition: service_completed_successfully\n" +
		"  db:\n    image: \"" + byDigest + "\"\n    command: [\"cat\", \"/hoist-marker\"]\n"
	if err := os.WriteFile(f.spec.File, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out := run(t, env, f)
	if res.Status != pipeline.CheckPass {
		t.Fatalf("result %s: %s\n%s", res.Status, res.Detail, out)
	}
	contains(t, "log", out, "[autotest] service db: pulling "+byDigest, "db | marker=svc-"+id)
}
