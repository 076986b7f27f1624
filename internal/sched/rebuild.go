package sched

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Rebuild queues a build of the finished build id's project that checks
// out that build's commit (not its branch's head) and runs even when those
// inputs were delivered before: the same build, again. A build that never
// got a commit (it failed in checkout) is rebuilt from the branch's head.
// pipeline.ErrNotFound for no such build, pipeline.ErrNotFinished when it
// is still queued or running, pipeline.ErrBusy when the project has a
// build queued (a rebuild would join it and change what it builds),
// pipeline.ErrDisabled for a disabled project.
func (d *Dispatcher) Rebuild(ctx context.Context, id int64, by string) (pipeline.Build, error) {
	old, err := d.store.Build(ctx, id)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
		return pipeline.Build{}, pipeline.ErrNotFound
	case err != nil:
		return pipeline.Build{}, fmt.Errorf("rebuilding build %d: %w", id, err)
	case !old.Status.Done():
		return pipeline.Build{}, fmt.Errorf("build #%d of %s is %s: %w; cancel it or wait for it to end", old.Number, old.Project, old.Status, pipeline.ErrNotFinished)
	}
	newest, err := d.store.Builds(ctx, old.Project, 1)
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("rebuilding build %d: %w", id, err)
	}
	if len(newest) > 0 && newest[0].Status == pipeline.StatusQueued {
		return pipeline.Build{}, fmt.Errorf("%s has build #%d queued: %w; let it run or cancel it, then rebuild", old.Project, newest[0].Number, pipeline.ErrBusy)
	}
	cause := fmt.Sprintf("rebuild of #%d by %s", old.Number, by)
	// Marked before a worker here can claim it (claims hold mu): its
	// inputs are read at the claim.
	d.mu.Lock()
	defer d.mu.Unlock()
	b, _, err := d.enqueue(ctx, old.Project, cause)
	if err != nil {
		return b, err
	}
	if err := d.store.SetForce(ctx, b.ID); err != nil {
		return b, err
	}
	if old.Commit != "" {
		if err := d.store.PinCommit(ctx, b.ID, old.Commit); err != nil {
			return b, err
		}
	}
	d.signal()
	return b, nil
}
