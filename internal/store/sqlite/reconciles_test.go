package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/hoistci/hoist/internal/store/storetest"
)

func TestIndexTrackingConformance(t *testing.T) {
	storetest.RunIndexTracking(t, func(t *testing.T) storetest.IndexTrackingStore {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
