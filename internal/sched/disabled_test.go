package sched

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// A disabled project is not built: triggering it is refused, and a build
// queued before it was disabled fails with the reason when its turn comes.
func TestDispatcherDisabledProject(t *testing.T) {
	f := start(t, 1, []string{"a/one:1", "a/two:1"}, nil)
	ctx := context.Background()
	first, _ := f.trigger("a/one:1")
	f.started()
	queued, _ := f.trigger("a/two:1")
	p, err := f.st.Project(ctx, "a/two:1")
	must(t, err)
	p.Disabled = true
	must(t, f.st.PutProject(ctx, p))
	f.exec.release <- struct{}{}
	f.status(first.ID, pipeline.StatusSucceeded)
	b := f.status(queued.ID, pipeline.StatusFailed)
	if !strings.Contains(b.Reason, "disabled") {
		t.Errorf("queued build of a disabled project: reason %q, want it to say disabled", b.Reason)
	}
	f.quiet()
	if _, _, err := f.d.Trigger(ctx, "a/two:1", "test"); !errors.Is(err, pipeline.ErrDisabled) {
		t.Errorf("Trigger of a disabled project: err = %v, want pipeline.ErrDisabled", err)
	}
}
