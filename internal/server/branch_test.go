package server

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestRegisterUsesTheDefaultBranch registers, without a branch, a
// repository served over HTTP whose default branch is main: the project
// stores main, as git clone would check out, not cccp's master.
func TestRegisterUsesTheDefaultBranch(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	e := newAPIEnv(t, Options{})
	e.server.deps.Branches = source.New()

	var out struct {
		Project struct {
			Branch string `json:"branch"`
		} `json:"project"`
	}
	e.json("POST", "/api/v1/projects", `{"name":"ns/app","repo_url":"`+url+`"}`, byToken, http.StatusCreated, &out)
	p, err := e.store.Project(context.Background(), "ns/app:latest")
	if err != nil || p.GitBranch != "main" || out.Project.Branch != "main" {
		t.Errorf("registered without a branch: stored %q (%v), answered %q; want main", p.GitBranch, err, out.Project.Branch)
	}

	e.json("POST", "/api/v1/projects", `{"name":"ns/dev","repo_url":"`+url+`-missing","branch":"dev"}`, byToken, http.StatusCreated, nil)
	if p, err := e.store.Project(context.Background(), "ns/dev:latest"); err != nil || p.GitBranch != "dev" {
		t.Errorf("registered with a branch: stored %q (%v), want dev", p.GitBranch, err)
	}

	eb := e.apiErr("POST", "/api/v1/projects", `{"name":"ns/gone","repo_url":"`+url+`-missing"}`, byToken, http.StatusUnprocessableEntity)
	if eb.Error.Field != "repo_url" || !strings.Contains(eb.Error.Message, "default branch") || !strings.Contains(eb.Error.Message, "not found") {
		t.Errorf("unreadable repository without a branch: %+v", eb.Error)
	}
	if _, err := e.store.Project(context.Background(), "ns/gone:latest"); err == nil {
		t.Error("a project whose repository could not be read was stored")
	}

	// A PATCH that clears the branch gets the default branch again, not
	// master.
	e.json("PATCH", "/api/v1/projects/ns/app", `{"branch":"dev"}`, byToken, http.StatusOK, nil)
	e.json("PATCH", "/api/v1/projects/ns/app", `{"branch":""}`, byToken, http.StatusOK, nil)
	if p, err := e.store.Project(context.Background(), "ns/app:latest"); err != nil || p.GitBranch != "main" {
		t.Errorf("branch cleared by PATCH: stored %q (%v), want the default branch main", p.GitBranch, err)
	}
}
