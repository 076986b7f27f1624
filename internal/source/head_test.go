package source

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hoistci/hoist/internal/testenv"
)

func TestHeadOverHTTP(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"a": "1"})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	g := New()
	want := testenv.Git(t, repo, "rev-parse", "HEAD")
	if got, err := g.Head(t.Context(), url, "main"); err != nil || got != want {
		t.Fatalf("Head = %q, %v; want %q", got, err, want)
	}
	next := testenv.Commit(t, repo, map[string]string{"a": "2"}, "second")
	if got, err := g.Head(t.Context(), url, "main"); err != nil || got != next {
		t.Fatalf("Head after a commit = %q, %v; want %q", got, err, next)
	}
	if _, err := g.Head(t.Context(), url, "nope"); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("Head of a missing branch: %v, want ErrRefNotFound", err)
	}
	if _, err := g.Head(t.Context(), url+"-missing", "main"); !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("Head of a missing repository: %v, want ErrRepoNotFound", err)
	}
}
