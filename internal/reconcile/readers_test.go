package reconcile_test

import (
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/reconcile"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestGitIndexTimeout reads an index from a git server that accepts the
// connection and never answers: the read ends at the timeout, saying so.
func TestGitIndexTimeout(t *testing.T) {
	testenv.Git(t, "", "version") // skips without git
	url := "http://" + testenv.SilentServer(t) + "/index.git"
	g := &reconcile.GitIndex{URL: url, Branch: "main", Dir: t.TempDir(), Source: source.New(), Loader: index.Loader{}, Timeout: time.Second}
	start := time.Now()
	_, err := g.ReadIndex(t.Context())
	if want := "fetching the index " + url + " (branch main): timed out after 1s"; err == nil || err.Error() != want {
		t.Errorf("ReadIndex error = %v, want %q", err, want)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("ReadIndex took %s with a 1s timeout", d)
	}
}
