package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestRepoCredentialsAreNeverShown(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	p := testProject("ns", "secret")
	p.GitURL = "http://user:s3cret@git.example.com/x.git"
	e.putProject(p)
	tok := testProject("ns", "token")
	tok.GitURL = "https://ghp_T0KEN@github.com/org/x.git"
	e.putProject(tok)

	for _, path := range []string{"/api/v1/projects", "/api/v1/projects/ns/secret", "/api/v1/projects/ns/token",
		"/", "/?q=git.example", "/p/ns/secret", "/p/ns/token"} {
		status, body := e.do("GET", path, "", anon)
		if status != http.StatusOK {
			t.Errorf("GET %s = %d", path, status)
		}
		if strings.Contains(string(body), "s3cret") || strings.Contains(string(body), "T0KEN") {
			t.Errorf("GET %s shows credentials:\n%s", path, body)
		}
	}
	if _, body := e.do("GET", "/api/v1/projects/ns/secret", "", anon); !strings.Contains(string(body), `"http://user:***@git.example.com/x.git"`) {
		t.Errorf("the API does not show the redacted URL:\n%s", body)
	}
	// Searching for the password must not find the project either.
	if _, body := e.do("GET", "/?q=s3cret", "", anon); strings.Contains(string(body), "ns/secret") {
		t.Errorf("searching the password finds the project:\n%s", body)
	}
	// The redacted URL sent back (a client echoing GET) keeps the real one;
	// a new URL replaces it.
	ctx := context.Background()
	if status, body := e.do("PATCH", "/api/v1/projects/ns/secret", `{"repo_url":"http://user:***@git.example.com/x.git","branch":"dev"}`, byToken); status != http.StatusOK {
		t.Fatalf("PATCH = %d %s", status, body)
	}
	if got, err := e.store.Project(ctx, "ns/secret:latest"); err != nil || got.GitURL != p.GitURL || got.GitBranch != "dev" {
		t.Errorf("after PATCH with the redacted URL: %q %q %v", got.GitURL, got.GitBranch, err)
	}
	if status, body := e.do("PATCH", "/api/v1/projects/ns/secret", `{"repo_url":"http://user:new@git.example.com/x.git"}`, byToken); status != http.StatusOK ||
		strings.Contains(string(body), "new@") {
		t.Fatalf("PATCH = %d %s", status, body)
	}
	if got, _ := e.store.Project(ctx, "ns/secret:latest"); got.GitURL != "http://user:new@git.example.com/x.git" {
		t.Errorf("after PATCH with a new URL: %q", got.GitURL)
	}
}
