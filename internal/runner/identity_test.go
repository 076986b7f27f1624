package runner_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
)

// gitless is a seam: a checkout that writes a Dockerfile at a given commit.
type gitless struct{ commit, dockerfile string }

func (g *gitless) Checkout(ctx context.Context, url, branch, dir string, log io.Writer) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return g.commit, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(g.dockerfile), 0o644)
}

// countingEngine is the engine seam: it counts every call and builds
// nothing; each push gets a new digest.
type countingEngine struct {
	mu     sync.Mutex
	calls  int
	pulled []string // BuildSpec.From: "ref as name"
}

func (e *countingEngine) count() int { e.mu.Lock(); defer e.mu.Unlock(); return e.calls }
func (e *countingEngine) inc()       { e.mu.Lock(); e.calls++; e.mu.Unlock() }

// Reap counts as an engine call: a build that ran reaps what it left.
func (e *countingEngine) Reap(context.Context, map[string]string) (pipeline.Reaped, error) {
	e.inc()
	return pipeline.Reaped{}, nil
}

func (e *countingEngine) Build(_ context.Context, spec pipeline.BuildSpec, _ io.Writer) (string, error) {
	e.inc()
	if spec.Workspace == "" || !strings.HasPrefix(spec.ContextDir, spec.Workspace) {
		return "", fmt.Errorf("build context %q not in a workspace (%q)", spec.ContextDir, spec.Workspace)
	}
	e.mu.Lock()
	for name, ref := range spec.From {
		e.pulled = append(e.pulled, ref+" as "+name)
	}
	e.mu.Unlock()
	return "sha256:image", nil
}
func (e *countingEngine) Push(context.Context, string, io.Writer) (string, error) {
	e.inc()
	return fmt.Sprintf("sha256:%064d", e.count()), nil
}
func (e *countingEngine) Pull(context.Context, string, io.Writer) error {
	e.inc()
	return nil
}
func (e *countingEngine) InspectImage(context.Context, string) (pipeline.ImageConfig, error) {
	e.inc()
	return pipeline.ImageConfig{}, nil
}
func (e *countingEngine) Run(context.Context, pipeline.RunSpec, io.Writer) (pipeline.RunResult, error) {
	e.inc()
	return pipeline.RunResult{}, nil
}
func (e *countingEngine) RemoveContainersOf(context.Context, string, ...string) (int, error) {
	e.inc()
	return 0, nil
}

// mapRegistry is the registry seam: tags in a map.
type mapRegistry struct {
	mu   sync.Mutex
	tags map[string]string
}

func (r *mapRegistry) Tag(_ context.Context, src, dst string) (string, error) {
	_, d, _ := strings.Cut(src, "@")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tags[dst] = d
	r.tags[strings.TrimSuffix(dst, ":rc")+":test"] = d
	return d, nil
}

func (r *mapRegistry) Digest(_ context.Context, ref string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.tags[ref]
	if !ok {
		return "", pipeline.ErrNotFound
	}
	return d, nil
}

type passTester struct{}

func (passTester) Test(context.Context, pipeline.TestSpec, io.Writer) ([]pipeline.CheckResult, error) {
	return nil, nil
}

func TestBuildIdentity(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	src := &gitless{commit: "c1", dockerfile: "ARG B=demo/base\nFROM ${B}:1 AS b\nFROM b\n"}
	eng := &countingEngine{}
	reg := &mapRegistry{tags: map[string]string{}}
	base := pipeline.Project{AppID: "demo", JobID: "base", Tag: "1"}
	opts := runner.Options{RegistryHost: "reg:5000", WorkDir: t.TempDir(), Instance: "test"}
	projects := []pipeline.Project{demo, base}
	newRunner := func(o runner.Options) *runner.Runner {
		return runner.New(runner.Deps{Source: src, Engine: eng, Reaper: eng, Registry: reg, Tester: passTester{},
			RepoConfigs: index.RepoConfigs{}, Dockerfiles: dockerfile.Reader{}, Store: st}, o)
	}
	r := newRunner(opts)
	run := func(want pipeline.Status) pipeline.Build {
		t.Helper()
		b, err := r.Run(ctx, demo, "test", inputs(t, st, demo, 0, projects, false))
		must(t, err)
		if b.Status != want {
			t.Fatalf("build #%d: %s %q, want %s", b.Number, b.Status, b.Reason, want)
		}
		return b
	}
	first := run(pipeline.StatusSucceeded)
	from, err := st.FromImages(ctx)
	must(t, err)
	if got := fmt.Sprint(from[demo.Key()]); got != "[demo/base:1]" {
		t.Errorf("recorded FROM images = %s, want demo/base:1", got)
	}
	calls := eng.count()

	second := run(pipeline.StatusSkipped)
	if second.Reason != "unchanged: same inputs as build #1" || second.Digest != first.Digest || !second.Unchanged() {
		t.Errorf("second build: %q %s, want unchanged with digest %s", second.Reason, second.Digest, first.Digest)
	}
	if eng.count() != calls {
		t.Errorf("the unchanged build made %d engine calls, want none", eng.count()-calls)
	}
	stages, err := st.Stages(ctx, second.ID)
	must(t, err)
	for _, s := range stages {
		if s.Name != pipeline.StageCheckout && (s.Status != pipeline.StatusSkipped || !strings.HasPrefix(s.Error, "unchanged")) {
			t.Errorf("stage %s: %s %q, want skipped as unchanged", s.Name, s.Status, s.Error)
		}
	}

	// --force builds anyway; so does a stored force mark.
	b, err := r.Run(ctx, demo, "forced", inputs(t, st, demo, 0, projects, true))
	must(t, err)
	if b.Status != pipeline.StatusSucceeded || eng.count() == calls {
		t.Errorf("forced build: %s %q with no engine call", b.Status, b.Reason)
	}

	// The parent delivers a new digest: the inputs change, and the build
	// uses exactly that digest.
	must(t, st.RecordImage(ctx, pipeline.DeliveredImage{Image: "reg:5000/demo/base:1", Project: "demo/base:1", Digest: "sha256:parent2", BuildID: 99}))
	run(pipeline.StatusSucceeded)
	if got := eng.pulled; len(got) != 1 || got[0] != "reg:5000/demo/base@sha256:parent2 as demo/base:1" {
		t.Errorf("pulled %q, want the parent's delivered digest", got)
	}
	run(pipeline.StatusSkipped)

	// The tag no longer points at what was delivered: build again.
	reg.mu.Lock()
	reg.tags["reg:5000/demo/app:latest"] = "sha256:someone-else"
	reg.mu.Unlock()
	run(pipeline.StatusSucceeded)

	// A new commit changes the inputs.
	src.commit = "c2"
	run(pipeline.StatusSucceeded)
	run(pipeline.StatusSkipped)
}

func TestBuildIdentityCycle(t *testing.T) {
	st := openStore(t)
	base := pipeline.Project{AppID: "demo", JobID: "base", Tag: "1", DependsOn: []pipeline.ImageRef{demo.Image()}}
	r := runner.New(runner.Deps{Source: &gitless{commit: "c1", dockerfile: "FROM demo/base:1\n"}, Engine: &countingEngine{},
		Registry: &mapRegistry{tags: map[string]string{}}, Tester: passTester{}, RepoConfigs: index.RepoConfigs{},
		Dockerfiles: dockerfile.Reader{}, Store: st},
		runner.Options{RegistryHost: "reg:5000", WorkDir: t.TempDir()})
	b, err := r.Run(context.Background(), demo, "test", inputs(t, st, demo, 0, []pipeline.Project{demo, base}, false))
	must(t, err)
	want := "the image graph has a cycle: demo/app:latest → demo/base:1 → demo/app:latest; remove a depends-on or FROM line to break it"
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageCheckout || b.Reason != want {
		t.Errorf("build: %s in %s %q, want failed in checkout %q", b.Status, b.FailedStage, b.Reason, want)
	}
}
