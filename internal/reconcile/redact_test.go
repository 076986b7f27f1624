package reconcile

import (
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/source"
)

// TestGitIndexErrorHidesCredentials: a failed fetch of an index names its
// repository without the credentials (the error is shown on /index).
func TestGitIndexErrorHidesCredentials(t *testing.T) {
	g := &GitIndex{URL: "http://bot:s3cret@127.0.0.1:1/index.git", Branch: "main", Dir: t.TempDir(), Source: source.New()}
	_, err := g.ReadIndex(t.Context())
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "bot:***@127.0.0.1:1") {
		t.Errorf("ReadIndex = %v", err)
	}
}
