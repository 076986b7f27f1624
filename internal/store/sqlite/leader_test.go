package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/hoistci/hoist/internal/store/storetest"
)

func TestLeaderConformance(t *testing.T) {
	storetest.RunLeader(t, func(t *testing.T) storetest.LeaderBackend {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
