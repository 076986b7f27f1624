package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/hoistci/hoist/internal/store/storetest"
)

func TestNotifyConformance(t *testing.T) {
	storetest.RunNotify(t, func(t *testing.T) storetest.NotifyBackend {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
