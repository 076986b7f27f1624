package runner_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestPinnedCommit: a build pinned to a commit (a rebuild) checks out that
// commit, not its branch's head. The old commit lacks the Dockerfile the
// head has, so the pinned build stops after its checkout, without an engine.
func TestPinnedCommit(t *testing.T) {
	ctx := context.Background()
	repo := testenv.GitRepo(t, map[string]string{"README": "old\n"})
	old := strings.TrimSpace(testenv.Git(t, repo, "rev-parse", "HEAD"))
	must(t, os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	testenv.Git(t, repo, "add", "-A")
	testenv.Git(t, repo, "commit", "-qm", "a Dockerfile")

	st := openStore(t)
	r := runner.New(runner.Deps{Source: source.New(), RepoConfigs: index.RepoConfigs{}, Store: st},
		runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir()})
	p := pipeline.Project{AppID: "demo", JobID: "pin", Tag: "latest", GitURL: repo, GitBranch: "main", GitPath: "/", TargetFile: "Dockerfile", BuildContext: "./"}
	must(t, st.PutProject(ctx, p))
	b, _, err := st.Enqueue(ctx, p.Key(), "rebuild", time.Now())
	must(t, err)
	must(t, st.PinCommit(ctx, b.ID, old))
	b, err = st.Claim(ctx, time.Now())
	must(t, err)
	got, err := r.Execute(ctx, p, b, inputs(t, st, p, b.ID, nil, false))
	must(t, err)
	rc, err := st.OpenLog(ctx, b.ID, pipeline.StageCheckout, 0)
	must(t, err)
	defer rc.Close()
	log, _ := io.ReadAll(rc)
	if !strings.Contains(string(log), "rebuilding commit "+old) || !strings.Contains(string(log), "("+old+")") {
		t.Errorf("the checkout log does not show commit %s checked out:\n%s", old, log)
	}
	if got.FailedStage != pipeline.StageCheckout || !strings.Contains(got.Reason, "not found") {
		t.Errorf("build %+v, want it failed in checkout for want of the head's Dockerfile", got)
	}
}
