package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestLintStage runs builds that the lint stage stops, before any engine
// is needed, with buildkit's linter, a real git repository and the real
// store; their results and JUnit report are stored with the build.
func TestLintStage(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	must(t, err)
	defer st.Close()
	artifacts := t.TempDir()
	r := runner.New(runner.Deps{Source: source.New(), RepoConfigs: index.RepoConfigs{}, Linter: dockerfile.Linter{}, Store: st},
		runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir(), ArtifactDir: artifacts})

	tests := []struct {
		name    string
		files   map[string]string
		reason  string
		results map[string]pipeline.CheckStatus // id → status
	}{
		{
			name:    "does not parse",
			files:   map[string]string{"app/Dockerfile": "FROM scratch\nFORM scratch\n"},
			reason:  "Dockerfile:2",
			results: map[string]pipeline.CheckStatus{"lint": pipeline.CheckFail},
		},
		{
			name: "made blocking by cccp.yml",
			files: map[string]string{
				"app/Dockerfile": "FROM scratch\nMAINTAINER someone\nCMD [\"/x\"]\n",
				"app/cccp.yml":   "checks:\n  lint: blocking\n",
			},
			reason:  "app/Dockerfile:2:1: lint/MaintainerDeprecated",
			results: map[string]pipeline.CheckStatus{"lint/MaintainerDeprecated": pipeline.CheckFail},
		},
		{
			name:    "its own check=error=true",
			files:   map[string]string{"app/Dockerfile": "# check=error=true\nFROM scratch\nCMD /x\n"},
			reason:  "lint/JSONArgsRecommended",
			results: map[string]pipeline.CheckStatus{"lint/JSONArgsRecommended": pipeline.CheckFail},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := testenv.GitRepo(t, tt.files)
			p := pipeline.Project{ID: i, AppID: "demo", JobID: "lint", Tag: strconv.Itoa(i),
				GitURL: repo, GitBranch: "main", GitPath: "app", TargetFile: "Dockerfile", BuildContext: "./"}
			b, err := r.Run(ctx, p, "test", inputs(t, st, p, 0, nil, false))
			must(t, err)
			if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageLint || !strings.Contains(b.Reason, tt.reason) {
				t.Fatalf("build %+v, want lint failed with %q", b, tt.reason)
			}
			stages, err := st.Stages(ctx, b.ID)
			must(t, err)
			for _, s := range stages {
				if s.Name == pipeline.StageBuild && s.Status != pipeline.StatusSkipped {
					t.Errorf("the build stage is %s after lint failed", s.Status)
				}
			}
			results, err := st.CheckResults(ctx, b.ID)
			must(t, err)
			got := map[string]pipeline.CheckStatus{}
			for _, res := range results {
				got[res.ID] = res.Status
				if res.Group != pipeline.GroupLint || !res.Blocking {
					t.Errorf("result %+v: want a blocking lint result", res)
				}
			}
			for id, status := range tt.results {
				if got[id] != status {
					t.Errorf("result %s is %q, want %q (all: %v)", id, got[id], status, got)
				}
			}
			a, err := st.Artifact(ctx, b.ID, "junit.xml")
			must(t, err)
			onDisk, err := os.ReadFile(filepath.Join(artifacts, strconv.FormatInt(b.ID, 10), "junit.xml"))
			must(t, err)
			for path, want := range map[string]os.FileMode{strconv.FormatInt(b.ID, 10): 0o700, strconv.FormatInt(b.ID, 10) + "/junit.xml": 0o600} {
				if fi, err := os.Stat(filepath.Join(artifacts, path)); err != nil {
					t.Error(err)
				} else if fi.Mode().Perm() != want {
					t.Errorf("artifact %s: %v, want %v", path, fi.Mode(), want)
				}
			}
			if string(onDisk) != string(a.Data) || !strings.Contains(string(a.Data), `<failure message=`) {
				t.Errorf("junit.xml (stored %d bytes, on disk %d) lacks the failure:\n%s", len(a.Data), len(onDisk), a.Data)
			}
		})
	}
}
