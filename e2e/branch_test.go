package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestProjectAddDefaultBranch registers with `hoist project add NS/NAME
// URL`, no --branch, a repository served over HTTP whose default branch is
// main: the project gets main, and its first build checks it out.
func TestProjectAddDefaultBranch(t *testing.T) {
	testenv.DockerHost(t)
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY Dockerfile /\n"})
	head := testenv.Git(t, repo, "rev-parse", "HEAD")
	url := serveRepos(t, map[string]string{"app.git": repo}) + "/app.git"
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startServe(t, "serve", "--addr", addr, "--data", data, "--registry-addr", freeAddr(t), "--workers", "1")
	srv.waitOutput(t, "hoist is serving")
	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--data", data, "alice"); r.code != 0 {
		t.Fatalf("user add:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--data", data, "alice")
	if r.code != 0 {
		t.Fatalf("token create:\n%s", r)
	}
	env := []string{"HOIST_TOKEN=" + strings.TrimSpace(r.stdout), "HOIST_SERVER=" + base}

	if r := hoist(t, env, "project", "add", "demo/app", url); r.code != 0 {
		t.Fatalf("project add:\n%s", r)
	}
	st := openStore(t, data)
	p, err := st.Project(context.Background(), "demo/app:latest")
	if err != nil || p.GitBranch != "main" {
		t.Fatalf("registered project at branch %q (%v), want main", p.GitBranch, err)
	}
	first := func() pipeline.Build {
		bs, err := st.Builds(context.Background(), "demo/app:latest", 0)
		if err != nil || len(bs) == 0 {
			t.Fatalf("builds of demo/app: %v, %v", bs, err)
		}
		return bs[len(bs)-1]
	}
	waitFor(t, "the first build's checkout", func() bool {
		b := first()
		return b.Commit != "" || b.Status == pipeline.StatusFailed
	})
	if b := first(); b.Commit != head {
		t.Errorf("build #1: %+v, want it at %s, main's head", b, head)
	}
	srv.stop(t)
}
