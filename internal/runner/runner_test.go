package runner_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestCheckoutRefusals runs builds that must stop at checkout, with a real
// git repository and the real store; no engine is needed for them.
func TestCheckoutRefusals(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := testenv.GitRepo(t, map[string]string{
		"app/Dockerfile":    "FROM scratch\n",
		"app/cccp.yml":      "job-id: other\n",
		"ok/Dockerfile":     "FROM scratch\n",
		"ctx/placeholder":   "",
		"shadow/Dockerfile": "FROM scratch\n",
	})
	must(t, os.Symlink(outside, filepath.Join(repo, "evil")))
	must(t, os.Symlink(outside, filepath.Join(repo, "shadow", "cccp.yml")))
	must(t, os.Symlink("/", filepath.Join(repo, "rootlink")))
	testenv.Git(t, repo, "add", "-A")
	testenv.Git(t, repo, "commit", "-qm", "links")

	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	must(t, err)
	defer st.Close()
	r := runner.New(runner.Deps{Source: source.New(), RepoConfigs: index.RepoConfigs{}, Store: st},
		runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir()})

	tests := []struct {
		name                          string
		gitPath, target, buildContext string
		want                          string
	}{
		{"symlinked target file", "/", "evil", "./", "target-file: evil leads outside the checkout"},
		{"symlinked context", "/", "ok/Dockerfile", "rootlink", "build-context: rootlink leads outside the checkout"},
		{"missing target file", "ok", "Containerfile", "./", "target-file ok/Containerfile not found in the repository"},
		{"cccp.yml job-id mismatch", "app", "Dockerfile", "./", `job-id "other" does not match the index's job-id "web"`},
		{"symlinked cccp.yml", "shadow", "Dockerfile", "./", "shadow/cccp.yml leads outside the checkout (to " + outside + ")"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pipeline.Project{ID: i, AppID: "demo", JobID: "web", Tag: strings.ReplaceAll(tt.name, " ", "-"),
				GitURL: repo, GitBranch: "main", GitPath: tt.gitPath, TargetFile: tt.target, BuildContext: tt.buildContext}
			b, err := r.Run(context.Background(), p, "test", inputs(t, st, p, 0, nil, false))
			must(t, err)
			if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageCheckout || !strings.Contains(b.Reason, tt.want) {
				t.Fatalf("build %+v, want checkout failed with %q", b, tt.want)
			}
			stages, err := st.Stages(context.Background(), b.ID)
			must(t, err)
			if len(stages) != len(pipeline.Stages) {
				t.Fatalf("%d stages recorded, want %d", len(stages), len(pipeline.Stages))
			}
			for _, s := range stages[1:] {
				if s.Status != pipeline.StatusSkipped {
					t.Errorf("stage %s is %s after a failed checkout", s.Name, s.Status)
				}
			}
			rc, err := st.OpenLog(context.Background(), b.ID, pipeline.StageCheckout, 0)
			must(t, err)
			defer rc.Close()
			buf := new(strings.Builder)
			_, _ = io.Copy(buf, rc)
			if !strings.Contains(buf.String(), "checkout failed: ") || !strings.Contains(buf.String(), tt.want) {
				t.Errorf("checkout log lacks the failure:\n%s", buf)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
