package runner_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// countingSource is real git that counts the checkouts it makes.
type countingSource struct {
	git       *source.Git
	checkouts atomic.Int64
}

func (s *countingSource) Checkout(ctx context.Context, url, branch, dir string, log io.Writer) (string, error) {
	s.checkouts.Add(1)
	return s.git.Checkout(ctx, url, branch, dir, log)
}

// TestUnchangedWithoutCheckout: with Deps.Heads, a build whose branch is
// still at the commit its project last delivered is settled as unchanged
// without a checkout, and every change a checkout would have seen still
// makes it build: a new commit (cccp.yml, Dockerfile), a parent's new
// digest, another target file in the index, a moved tag.
func TestUnchangedWithoutCheckout(t *testing.T) {
	ctx := context.Background()
	repo := testenv.GitRepo(t, map[string]string{
		"Dockerfile":     "FROM demo/base:1\n",
		"Dockerfile.alt": "FROM demo/base:1\n",
	})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	st := openStore(t)
	src := &countingSource{git: source.New()}
	eng := &countingEngine{}
	reg := &mapRegistry{tags: map[string]string{}}
	app := demo
	app.GitURL = url
	base := pipeline.Project{AppID: "demo", JobID: "base", Tag: "1"}
	must(t, st.RecordImage(ctx, pipeline.DeliveredImage{Image: "reg:5000/demo/base:1", Project: base.Key(), Digest: "sha256:parent1", BuildID: 99}))
	r := runner.New(runner.Deps{Source: src, Heads: source.New(), Engine: eng, Reaper: eng, Registry: reg, Tester: passTester{},
		RepoConfigs: index.RepoConfigs{}, Dockerfiles: dockerfile.Reader{}, Store: st},
		runner.Options{RegistryHost: "reg:5000", WorkDir: t.TempDir(), Instance: "test"})
	projects := []pipeline.Project{app, base}
	step := 0
	// run builds p and checks how it ended and whether it checked out.
	run := func(p pipeline.Project, want pipeline.Status, checkout bool) pipeline.Build {
		t.Helper()
		step++
		before, calls := src.checkouts.Load(), eng.count()
		b, err := r.Run(ctx, p, "test", inputs(t, st, p, 0, projects, false))
		must(t, err)
		if b.Status != want {
			t.Fatalf("step %d: build #%d %s %q, want %s", step, b.Number, b.Status, b.Reason, want)
		}
		if did := src.checkouts.Load() > before; did != checkout {
			t.Fatalf("step %d: build #%d checked out: %v, want %v; its checkout log:\n%s", step, b.Number, did, checkout, readLog(t, st, b.ID, pipeline.StageCheckout))
		}
		if want == pipeline.StatusSkipped && eng.count() != calls {
			t.Errorf("step %d: the unchanged build #%d made %d engine calls, want none", step, b.Number, eng.count()-calls)
		}
		return b
	}

	first := run(app, pipeline.StatusSucceeded, true)
	second := run(app, pipeline.StatusSkipped, false)
	if second.Reason != "unchanged: same inputs as build #1" || second.Digest != first.Digest || second.Commit != first.Commit {
		t.Errorf("build #2: %q %s at %s, want unchanged with build #1's digest %s and commit %s", second.Reason, second.Digest, second.Commit, first.Digest, first.Commit)
	}
	log := readLog(t, st, second.ID, pipeline.StageCheckout)
	for _, want := range []string{
		"main of " + url + " is still at " + first.Commit + ", which build #1 checked out: its inputs are known without a checkout\n",
		"FROM demo/base:1 (as build #1 read them)\n",
		"unchanged: same inputs as build #1; reg:5000/demo/app:latest is " + first.Digest + "\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("build #2's checkout log lacks %q:\n%s", want, log)
		}
	}
	from, err := st.FromImages(ctx)
	must(t, err)
	if got := from[app.Key()]; len(got) != 1 || got[0].String() != "demo/base:1" {
		t.Errorf("FROM images after the unchanged build: %v, want demo/base:1", got)
	}

	// A new commit, here a cccp.yml, is a new head: checked out and built.
	testenv.Commit(t, repo, map[string]string{"cccp.yml": "job-id: app\n"}, "cccp.yml")
	run(app, pipeline.StatusSucceeded, true)
	run(app, pipeline.StatusSkipped, false)

	// A Dockerfile with another FROM: built, and the new FROM is what the
	// next unchanged build knows.
	testenv.Commit(t, repo, map[string]string{"Dockerfile": "FROM demo/base:1\nFROM demo/other:2\n"}, "another FROM")
	run(app, pipeline.StatusSucceeded, true)
	b := run(app, pipeline.StatusSkipped, false)
	if log := readLog(t, st, b.ID, pipeline.StageCheckout); !strings.Contains(log, "FROM demo/base:1, demo/other:2 (as build #") {
		t.Errorf("the unchanged build after the new FROM does not name it:\n%s", log)
	}

	// A parent delivers a new digest: same commit, other inputs.
	must(t, st.RecordImage(ctx, pipeline.DeliveredImage{Image: "reg:5000/demo/base:1", Project: base.Key(), Digest: "sha256:parent2", BuildID: 99}))
	run(app, pipeline.StatusSucceeded, true)
	run(app, pipeline.StatusSkipped, false)
	// So does a FROM image that the last build read but that was not delivered then.
	must(t, st.RecordImage(ctx, pipeline.DeliveredImage{Image: "reg:5000/demo/other:2", Project: "demo/other:2", Digest: "sha256:other1", BuildID: 98}))
	run(app, pipeline.StatusSucceeded, true)
	run(app, pipeline.StatusSkipped, false)

	// The index names another target file: other inputs.
	alt := app
	alt.TargetFile = "Dockerfile.alt"
	run(alt, pipeline.StatusSucceeded, true)
	run(alt, pipeline.StatusSkipped, false)
	run(app, pipeline.StatusSucceeded, true)

	// The tag moved: checked out and built.
	reg.mu.Lock()
	reg.tags["reg:5000/demo/app:latest"] = "sha256:someone-else"
	reg.mu.Unlock()
	run(app, pipeline.StatusSucceeded, true)
	run(app, pipeline.StatusSkipped, false)

	// A build marked forced (a rebuild) checks out and builds; so does
	// every build of a forced runner (hoist run --force).
	queued := pipeline.Build{Project: app.Key(), Status: pipeline.StatusRunning, Cause: "rebuild"}
	must(t, st.CreateBuild(ctx, &queued))
	must(t, st.SetForce(ctx, queued.ID))
	before := src.checkouts.Load()
	if b, err := r.Execute(ctx, app, queued, inputs(t, st, app, queued.ID, projects, false)); err != nil || b.Status != pipeline.StatusSucceeded || src.checkouts.Load() == before {
		t.Errorf("build marked forced: %s %q, %v, checked out: %v; want built from a checkout", b.Status, b.Reason, err, src.checkouts.Load() > before)
	}
	before = src.checkouts.Load()
	if b, err := r.Run(ctx, app, "forced", inputs(t, st, app, 0, projects, true)); err != nil || b.Status != pipeline.StatusSucceeded || src.checkouts.Load() == before {
		t.Errorf("forced build: %s %q, %v, checked out: %v; want built from a checkout", b.Status, b.Reason, err, src.checkouts.Load() > before)
	}
	run(app, pipeline.StatusSkipped, false)
}
