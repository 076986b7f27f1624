package runner_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// engineGoesAway is the fault seam: its first build cuts the connection to
// the engine a second into the build (as a restart of the engine does) and
// restores it two seconds later.
type engineGoesAway struct {
	*engine.Engine
	proxy  *testenv.EngineProxy
	builds atomic.Int32
}

func (e *engineGoesAway) Build(ctx context.Context, spec pipeline.BuildSpec, log io.Writer) (string, error) {
	if e.builds.Add(1) == 1 {
		go func() {
			time.Sleep(time.Second)
			e.proxy.Cut()
			time.Sleep(2 * time.Second)
			e.proxy.Restore()
		}()
	}
	return e.Engine.Build(ctx, spec, log)
}

// TestStageRunsAgainWhenTheEngineGoesAway: a build whose engine goes away
// in the middle of its build stage (the engine restarted) is not failed:
// the stage waits for the engine to answer again and runs again, and the
// build succeeds, its log saying why the stage ran twice.
func TestStageRunsAgainWhenTheEngineGoesAway(t *testing.T) {
	ctx := t.Context()
	proxy := testenv.NewEngineProxy(t)
	e, err := engine.New(ctx, engine.Options{Host: proxy.Host})
	must(t, err)
	defer e.Close()
	host := testenv.DockerRegistry(t)
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	instance := "test-engineloss-" + hex.EncodeToString(rnd)
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY rootfs/ /\nRUN sleep 4 && echo " + instance + " > /built\n"})
	testenv.BusyboxRootfs(t, repo)
	testenv.Commit(t, repo, nil, "busybox")
	p := pipeline.Project{AppID: "demo", JobID: "engineloss", Tag: "latest", GitURL: repo, GitBranch: "main", GitPath: "/", TargetFile: "Dockerfile", BuildContext: "./"}
	t.Cleanup(func() {
		_, _ = e.Reap(context.Background(), map[string]string{pipeline.LabelInstance: instance})
		_ = e.RemoveImage(context.Background(), host+"/demo/engineloss:test")
	})
	st := openStore(t)
	must(t, st.PutProject(ctx, p))
	eng := &engineGoesAway{Engine: e, proxy: proxy}
	r := runner.New(runner.Deps{Source: source.New(), Engine: eng, Registry: registry.New(registry.Options{}), Tester: passTester{},
		Scripts: &script.Runner{}, RepoConfigs: index.RepoConfigs{}, Dockerfiles: dockerfile.Reader{}, Reaper: e, Store: st},
		runner.Options{RegistryHost: host, WorkDir: t.TempDir(), Instance: instance, EngineWait: time.Minute})

	b, err := r.Run(ctx, p, "test", inputs(t, st, p, 0, nil, false))
	must(t, err)
	log := readLog(t, st, b.ID, pipeline.StageBuild)
	if b.Status != pipeline.StatusSucceeded {
		t.Fatalf("build %s (%s), want succeeded after its engine came back; build log:\n%s", b.Status, b.Reason, log)
	}
	if n := eng.builds.Load(); n != 2 {
		t.Errorf("the engine was asked to build %d times, want 2 (once more after it came back)", n)
	}
	for _, want := range []string{"the container engine went away while build ran", "the container engine answers again", "pushing "} {
		if !strings.Contains(log, want) {
			t.Errorf("build log lacks %q:\n%s", want, log)
		}
	}
}

// pushGoesAway is the fault seam: its first push cuts the connection to
// the engine as it starts (the engine restarted while NAME:test was pushed
// beside the test stage) and restores it two seconds later.
type pushGoesAway struct {
	*engine.Engine
	proxy  *testenv.EngineProxy
	pushes atomic.Int32
}

func (e *pushGoesAway) Push(ctx context.Context, ref string, log io.Writer) (string, error) {
	if e.pushes.Add(1) == 1 {
		e.proxy.Cut()
		go func() {
			time.Sleep(2 * time.Second)
			e.proxy.Restore()
		}()
	}
	return e.Engine.Push(ctx, ref, log)
}

// TestPushRunsAgainWhenTheEngineGoesAway: the push of NAME:test runs
// beside the test stage; when the engine goes away during it, the test
// stage runs again once the engine answers, with a new push, and the
// build succeeds.
func TestPushRunsAgainWhenTheEngineGoesAway(t *testing.T) {
	ctx := t.Context()
	proxy := testenv.NewEngineProxy(t)
	e, err := engine.New(ctx, engine.Options{Host: proxy.Host})
	must(t, err)
	defer e.Close()
	host := testenv.DockerRegistry(t)
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	instance := "test-pushloss-" + hex.EncodeToString(rnd)
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": instance + "\n"})
	p := pipeline.Project{AppID: "demo", JobID: "pushloss", Tag: "latest", GitURL: repo, GitBranch: "main", GitPath: "/", TargetFile: "Dockerfile", BuildContext: "./"}
	t.Cleanup(func() {
		_, _ = e.Reap(context.Background(), map[string]string{pipeline.LabelInstance: instance})
		_ = e.RemoveImage(context.Background(), host+"/demo/pushloss:test")
	})
	st := openStore(t)
	must(t, st.PutProject(ctx, p))
	eng := &pushGoesAway{Engine: e, proxy: proxy}
	r := runner.New(runner.Deps{Source: source.New(), Engine: eng, Registry: registry.New(registry.Options{}), Tester: passTester{},
		Scripts: &script.Runner{}, RepoConfigs: index.RepoConfigs{}, Dockerfiles: dockerfile.Reader{}, Reaper: e, Store: st},
		runner.Options{RegistryHost: host, WorkDir: t.TempDir(), Instance: instance, EngineWait: time.Minute})

	b, err := r.Run(ctx, p, "test", inputs(t, st, p, 0, nil, false))
	must(t, err)
	log := readLog(t, st, b.ID, pipeline.StageTest)
	if b.Status != pipeline.StatusSucceeded || b.Digest == "" {
		t.Fatalf("build %s in %s (%s), want succeeded after its engine came back; test log:\n%s", b.Status, b.FailedStage, b.Reason, log)
	}
	if n := eng.pushes.Load(); n != 2 {
		t.Errorf("the engine was asked to push %d times, want 2 (once more after it came back)", n)
	}
	for _, want := range []string{"the container engine went away while test ran (pushing " + host + "/demo/pushloss:test failed: ", "the container engine answers again", "pushed " + host + "/demo/pushloss:test@" + b.Digest} {
		if !strings.Contains(log, want) {
			t.Errorf("test log lacks %q:\n%s", want, log)
		}
	}
}
