package sched_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// countingBranches is real git that counts the repositories it lists.
type countingBranches struct {
	git  *source.Git
	mu   sync.Mutex
	urls map[string]int
}

func (c *countingBranches) Branches(ctx context.Context, url string) (map[string]string, error) {
	c.mu.Lock()
	c.urls[url]++
	c.mu.Unlock()
	return c.git.Branches(ctx, url)
}

// TestHeads: every repository of a batch is listed once, however many
// projects and branches it holds, and Head answers from that listing.
func TestHeads(t *testing.T) {
	one := testenv.GitRepo(t, map[string]string{"a": "1"})
	oneMain := testenv.Git(t, one, "rev-parse", "HEAD")
	testenv.Git(t, one, "checkout", "--quiet", "-b", "release")
	oneRelease := testenv.Commit(t, one, map[string]string{"a": "2"}, "release")
	two := testenv.GitRepo(t, map[string]string{"b": "1"})
	twoMain := testenv.Git(t, two, "rev-parse", "HEAD")
	projects := []pipeline.Project{
		{AppID: "a", JobID: "x", Tag: "1", GitURL: one, GitBranch: "main"},
		{AppID: "a", JobID: "y", Tag: "1", GitURL: one, GitBranch: "release"},
		{AppID: "a", JobID: "z", Tag: "1", GitURL: two, GitBranch: "main"},
		{AppID: "a", JobID: "w", Tag: "1", GitURL: one, GitBranch: "gone"},
	}
	br := &countingBranches{git: source.New(), urls: map[string]int{}}
	h := sched.ReadHeads(t.Context(), br, projects, 2)
	for i, want := range []string{oneMain, oneRelease, twoMain} {
		if got, err := h.Head(t.Context(), projects[i].GitURL, projects[i].GitBranch); err != nil || got != want {
			t.Errorf("Head of %s = %q, %v; want %s", projects[i].Key(), got, err, want)
		}
	}
	// A commit after the repository was read is not seen: the build checks
	// out, and finds it.
	testenv.Git(t, one, "checkout", "--quiet", "main")
	testenv.Commit(t, one, map[string]string{"a": "3"}, "later")
	if got, err := h.Head(t.Context(), one, "main"); err != nil || got != oneMain {
		t.Errorf("Head after a later commit = %q, %v; want the head when it was read, %s", got, err, oneMain)
	}
	if _, err := h.Head(t.Context(), one, "gone"); err == nil || !strings.Contains(err.Error(), `branch "gone" not found in `+one) {
		t.Errorf("Head of a missing branch: %v", err)
	}
	if _, err := h.Head(t.Context(), "https://example.invalid/other.git", "main"); err == nil || !strings.Contains(err.Error(), "not a repository of this batch") {
		t.Errorf("Head of another repository: %v", err)
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	if len(br.urls) != 2 || br.urls[one] != 1 || br.urls[two] != 1 {
		t.Errorf("repositories listed: %v, want each of the 2 once", br.urls)
	}
}
