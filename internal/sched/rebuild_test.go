package sched

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// TestRebuild: a rebuild of a finished build queues a forced build pinned
// to its commit; a build still running, or a project with a build queued,
// is refused with a reason.
func TestRebuild(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	must(t, err)
	defer st.Close()
	must(t, st.PutProject(ctx, proj("a/app:1")))
	d := NewDispatcher(st, newFakeExec(st), DispatcherOptions{})
	commit := strings.Repeat("c", 40)
	old := pipeline.Build{Project: "a/app:1", Status: pipeline.StatusRunning, Commit: commit, Created: time.Now()}
	must(t, st.CreateBuild(ctx, &old))

	if _, err := d.Rebuild(ctx, old.ID, "alice"); !errors.Is(err, pipeline.ErrNotFinished) || !strings.Contains(err.Error(), "#1 of a/app:1 is running") {
		t.Errorf("rebuilding a running build: %v, want ErrNotFinished", err)
	}
	old.Status, old.Finished = pipeline.StatusSucceeded, time.Now()
	must(t, st.UpdateBuild(ctx, old))
	b, err := d.Rebuild(ctx, old.ID, "alice")
	must(t, err)
	if b.Status != pipeline.StatusQueued || b.Number != 2 || b.Cause != "rebuild of #1 by alice" {
		t.Errorf("rebuild %+v, want build #2 queued with its cause", b)
	}
	if pin, err := st.PinnedCommit(ctx, b.ID); err != nil || pin != commit {
		t.Errorf("the rebuild checks out %q (%v), want %s", pin, err, commit)
	}
	if forced, err := st.Forced(ctx, b.ID); err != nil || !forced {
		t.Errorf("the rebuild is not forced (%v)", err)
	}
	if _, err := d.Rebuild(ctx, old.ID, "bob"); !errors.Is(err, pipeline.ErrBusy) || !strings.Contains(err.Error(), "build #2 queued") {
		t.Errorf("rebuilding with a build queued: %v, want ErrBusy", err)
	}
	if _, err := d.Rebuild(ctx, 999, "bob"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("rebuilding no build: %v, want ErrNotFound", err)
	}
}
