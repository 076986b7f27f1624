package reconcile_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/reconcile"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// countingReader is a real folder index that counts its reads.
type countingReader struct {
	reconcile.FolderIndex
	reads atomic.Int32
}

func (c *countingReader) ReadIndex(ctx context.Context) (pipeline.IndexSnapshot, error) {
	c.reads.Add(1)
	return c.FolderIndex.ReadIndex(ctx)
}

// noQueue queues nothing: the index here is empty.
type noQueue struct{}

func (noQueue) Trigger(context.Context, string, string) (pipeline.Build, bool, error) {
	return pipeline.Build{}, false, nil
}

// newCountingTracker is a tracker of an empty index folder, reading it
// every hour unless poked.
func newCountingTracker(t *testing.T) (*reconcile.Tracker, *countingReader) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &countingReader{FolderIndex: reconcile.FolderIndex{Paths: []string{t.TempDir()}, Loader: index.Loader{}}}
	return reconcile.New(r, st, noQueue{}, reconcile.Options{Interval: time.Hour}), r
}

// TestRunPokesAndTicksSplit: of several servers, the leader runs the ticks
// and every server its pokes; a poke reaches RunPokes, never RunTicks.
func TestRunPokesAndTicksSplit(t *testing.T) {
	tr, r := newCountingTracker(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go tr.RunTicks(ctx)
	tr.Poke()
	time.Sleep(300 * time.Millisecond)
	if n := r.reads.Load(); n != 0 {
		t.Fatalf("RunTicks reconciled %d times on a poke, want none", n)
	}
	go tr.RunPokes(ctx)
	for deadline := time.Now().Add(10 * time.Second); r.reads.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("RunPokes did not reconcile on a poke within 10s")
		}
	}
}
