package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

func TestDefaultBranchOverHTTP(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"a": "1"})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	g := New()
	if got, err := g.DefaultBranch(t.Context(), url); err != nil || got != "main" {
		t.Fatalf("DefaultBranch = %q, %v; want main", got, err)
	}
	testenv.Git(t, repo, "checkout", "--quiet", "-b", "release/2")
	if got, err := g.DefaultBranch(t.Context(), url); err != nil || got != "release/2" {
		t.Fatalf("DefaultBranch after HEAD moved = %q, %v; want release/2", got, err)
	}
	if got, err := g.DefaultBranch(t.Context(), repo); err != nil || got != "release/2" {
		t.Errorf("DefaultBranch of the local path = %q, %v; want release/2", got, err)
	}
	if _, err := g.DefaultBranch(t.Context(), url+"-missing"); !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("DefaultBranch of a missing repository: %v, want ErrRepoNotFound", err)
	}
}

func TestBranchesOverHTTP(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"a": "1"})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	main := testenv.Git(t, repo, "rev-parse", "HEAD")
	testenv.Git(t, repo, "checkout", "--quiet", "-b", "release/2")
	release := testenv.Commit(t, repo, map[string]string{"a": "2"}, "second")
	testenv.Git(t, repo, "tag", "v1", main)
	g := New()
	for _, u := range []string{url, repo} {
		got, err := g.Branches(t.Context(), u)
		if err != nil {
			t.Fatalf("Branches(%s): %v", u, err)
		}
		if len(got) != 2 || got["main"] != main || got["release/2"] != release {
			t.Errorf("Branches(%s) = %v; want main %s and release/2 %s, no tags", u, got, main, release)
		}
	}
	if _, err := g.Branches(t.Context(), url+"-missing"); !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("Branches of a missing repository: %v, want ErrRepoNotFound", err)
	}
}

// TestBranchesOnThisMachine: a repository on this machine, working copy or
// bare, by path or file:// URL, is listed with one git for-each-ref
// instead of ls-remote's shell and git-upload-pack, with the same answer;
// a folder that is no repository still says so.
func TestBranchesOnThisMachine(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"a": "1"})
	main := testenv.Git(t, repo, "rev-parse", "HEAD")
	testenv.Git(t, repo, "checkout", "--quiet", "-b", "release/2")
	release := testenv.Commit(t, repo, map[string]string{"a": "2"}, "second")
	bare := filepath.Join(t.TempDir(), "bare.git")
	testenv.Git(t, "", "clone", "--quiet", "--bare", repo, bare)
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "git")
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\nexec git \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	g := &Git{Binary: wrapper}
	for _, u := range []string{repo, "file://" + repo, bare, "file://" + bare} {
		_ = os.Remove(calls)
		got, err := g.Branches(t.Context(), u)
		if err != nil {
			t.Fatalf("Branches(%s): %v", u, err)
		}
		if len(got) != 2 || got["main"] != main || got["release/2"] != release {
			t.Errorf("Branches(%s) = %v; want main %s and release/2 %s", u, got, main, release)
		}
		b, _ := os.ReadFile(calls)
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], " for-each-ref ") {
			t.Errorf("Branches(%s) ran git %q, want one for-each-ref", u, lines)
		}
	}
	if _, err := g.Branches(t.Context(), t.TempDir()); !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("Branches of a folder that is no repository: %v, want ErrRepoNotFound", err)
	}
}
