package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/testenv"
)

func TestIsRemoteRepo(t *testing.T) {
	for u, want := range map[string]bool{
		"https://github.com/org/repo.git": true,
		"HTTP://example.com/r":            true,
		"ssh://git@example.com/r.git":     true,
		"git://example.com/r":             true,
		"git+ssh://example.com/r":         true,
		"git@github.com:org/repo.git":     true,
		"example.com:repo":                true,
		"/srv/git/repo":                   false,
		"file:///srv/git/repo":            false,
		"FILE:///srv/git/repo":            false,
		"./repo":                          false,
		"../repo":                         false,
		"repo":                            false,
		"~/repo":                          false,
		"./a:b":                           false,
		":repo":                           false,
		"https:///srv/repo":               false,
		"foo://example.com/r":             false,
	} {
		if got := isRemoteRepo(u); got != want {
			t.Errorf("isRemoteRepo(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestLocalReposAreRefused(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	e, users := newOwnedEnv(t)
	bob := users["bob"]
	var msgs []string
	for _, u := range []string{repo, "file://" + repo, repo + "-missing", "file://" + repo + "-missing", filepath.Dir(repo), "./x", "/etc"} {
		before := e.snapshot()
		body, _ := json.Marshal(map[string]string{"name": "bobs/app", "repo_url": u})
		status, out := e.doAs(bob, "POST", "/api/v1/projects", string(body))
		var eb errorBody
		if status != http.StatusUnprocessableEntity || json.Unmarshal([]byte(out), &eb) != nil || eb.Error.Field != "repo_url" {
			t.Errorf("registering %q = %d %s; want 422 on repo_url", u, status, out)
			continue
		}
		msgs = append(msgs, eb.Error.Message)
		if strings.Contains(eb.Error.Message, repo) || strings.Contains(eb.Error.Message, "main") {
			t.Errorf("the refusal of %q names what is on the server: %s", u, eb.Error.Message)
		}
		if after := e.snapshot(); after != before {
			t.Errorf("registering %q changed the store", u)
		}
	}
	for _, m := range msgs {
		if m != msgs[0] {
			t.Errorf("refusals differ, so they tell what exists:\n%s\n%s", msgs[0], m)
		}
	}
	if _, err := e.store.Role(context.Background(), "bobs", bob.ID); err == nil {
		t.Error("a refused registration claimed the namespace")
	}

	// PATCH to a local path is refused as well, and changes nothing.
	before := e.snapshot()
	eb := e.apiErr("PATCH", "/api/v1/projects/ns/web", `{"repo_url":"`+repo+`"}`, byToken, http.StatusUnprocessableEntity)
	if eb.Error.Field != "repo_url" || eb.Error.Message != msgs[0] {
		t.Errorf("PATCH to a local path: %+v", eb.Error)
	}
	if e.snapshot() != before {
		t.Error("a refused PATCH changed the store")
	}
	// So is the web form.
	status, page := e.webAs(bob, "/register", url.Values{"name": {"bobs/web"}, "repo_url": {repo}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "--allow-local-repos") {
		t.Errorf("register form with a local path = %d\n%s", status, page)
	}
}

func TestAllowLocalRepos(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	e, users := newOwnedEnv(t)
	e.server.opts.AllowLocalRepos = true
	body, _ := json.Marshal(map[string]string{"name": "bobs/app", "repo_url": repo, "branch": "main"})
	if status, out := e.doAs(users["bob"], "POST", "/api/v1/projects", string(body)); status != http.StatusCreated {
		t.Errorf("registering a local path with --allow-local-repos = %d %s", status, out)
	}
	e.json("PATCH", "/api/v1/projects/ns/web", `{"repo_url":"file://`+repo+`"}`, byToken, http.StatusOK, nil)
}
