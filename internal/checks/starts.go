package checks

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checkStarts runs the image's own command: it passes when the container
// exits 0, or is still up after its window. The window is StayUp at least,
// and lasts while the other checks and the test-script run (they share the
// container: the window is no extra wait), so a container that a test
// makes crash fails here too.
func checkStarts(ctx context.Context, r *run) outcome {
	if len(r.cfg.Entrypoint) == 0 && len(r.cfg.Cmd) == 0 {
		return outcome{status: pipeline.CheckNA, detail: "nothing to start: no CMD or ENTRYPOINT"}
	}
	if r.target == nil {
		return r.startsAlone(ctx)
	}
	t := r.target
	sctx, cancel := context.WithTimeout(ctx, r.s.opts.StartTimeout)
	id, err := t.start(sctx)
	cancel()
	if err != nil {
		return outcome{status: pipeline.CheckFail, detail: fmt.Sprintf("the container did not start: %v", err)}
	}
	var out tail
	octx, stopOutput := context.WithCancel(ctx)
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		w := io.MultiWriter(r.log, &out)
		_ = t.c.ContainerOutput(octx, id, w, w, true)
	}()
	finish := func() string {
		select { // what it wrote before it exited, then stop following
		case <-streamed:
		case <-time.After(2 * time.Second):
		}
		stopOutput()
		<-streamed
		return out.String()
	}

	// While the others run, the window is not over; a timer covers
	// StayUp.
	window := time.NewTimer(max(r.s.opts.StayUp-t.up(), 0))
	defer window.Stop()
	watching := true
	for watching {
		select {
		case <-t.exited:
			watching = false
		case <-window.C:
			if r.othersDone == nil {
				watching = false
				break
			}
			select {
			case <-r.othersDone:
				watching = false
			case <-t.exited:
				watching = false
			case <-ctx.Done():
				return outcome{status: pipeline.CheckFail, output: finish(), detail: ctx.Err().Error()}
			}
		case <-ctx.Done():
			return outcome{status: pipeline.CheckFail, output: finish(), detail: ctx.Err().Error()}
		}
	}
	select {
	case <-t.exited:
	default:
		stopOutput()
		<-streamed
		up := t.up().Round(10 * time.Millisecond)
		how := fmt.Sprintf("still running after %s", up)
		if up > r.s.opts.StayUp+100*time.Millisecond {
			how += " (the other checks and the test-script ran meanwhile)"
		}
		return outcome{status: pipeline.CheckPass, output: out.String(), detail: how}
	}
	o := outcome{output: finish()}
	up := t.up().Round(10 * time.Millisecond)
	switch {
	case t.code == 0:
		o.status, o.detail = pipeline.CheckPass, "exited 0"
	case up <= r.s.opts.StayUp:
		o.status, o.detail = pipeline.CheckFail, fmt.Sprintf("the container exited with status %d within %s (its output is above)", t.code, r.s.opts.StayUp)
	default:
		o.status, o.detail = pipeline.CheckFail, fmt.Sprintf("the container exited with status %d after %s, while the other checks or the test-script ran (its output is above)", t.code, up)
	}
	return o
}

// startsAlone is the "starts" check in a container of its own, run to its
// end or StayUp, when there is no engine to run background containers
// with.
func (r *run) startsAlone(ctx context.Context) outcome {
	ctx, cancel := context.WithTimeout(ctx, r.s.opts.StartTimeout)
	defer cancel()
	var out tail
	res, err := r.s.d.Engine.Run(ctx, pipeline.RunSpec{
		Image:  r.spec.Image,
		Labels: map[string]string{"io.hoist.check": "starts"},
		StayUp: r.s.opts.StayUp,
	}, io.MultiWriter(r.log, &out))
	o := outcome{output: out.String()}
	switch {
	case err != nil:
		o.status, o.detail = pipeline.CheckFail, fmt.Sprintf("the container did not start: %v", err)
	case !res.Exited:
		o.status, o.detail = pipeline.CheckPass, fmt.Sprintf("still running after %s", r.s.opts.StayUp)
	case res.ExitCode == 0:
		o.status, o.detail = pipeline.CheckPass, "exited 0"
	default:
		o.status, o.detail = pipeline.CheckFail, fmt.Sprintf("the container exited with status %d within %s (its output is above)", res.ExitCode, r.s.opts.StayUp)
	}
	return o
}
