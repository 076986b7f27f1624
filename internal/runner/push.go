package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// pushing is a build's push of NAME:test, started when its build stage
// ends and run beside the test stage: the checks that run the image use
// the executor's copy at once, the rest of the build (the checks that
// read the registry's copy, the scan, delivery) waits for it
// (pipeline.TestSpec.Pushed). Its outcome and the engine's output are
// written to the test stage's log, after the tests.
type pushing struct {
	ref    string
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the engine's Push has returned

	// Set before done is closed.
	out               bytes.Buffer // the engine's output
	started, finished time.Time
	digest            string
	err               error
}

// errPushDiscarded ends a push whose image nobody will read: the build
// ended, or its stage runs again.
var errPushDiscarded = errors.New("the push is not needed: the build ended")

// startPush starts pushing j's NAME:test beside the stages that follow.
func (r *Runner) startPush(ctx context.Context, j *job) {
	pctx, cancel := context.WithCancelCause(ctx)
	p := &pushing{ref: r.ref(j, "test"), cancel: cancel, done: make(chan struct{}), started: now()}
	go func() {
		defer close(p.done)
		p.digest, p.err = r.deps.Engine.Push(pctx, p.ref, &p.out)
		p.finished = now()
	}()
	j.pushing = p
}

// wait waits for the push and returns its digest, or why it failed, or
// ctx's cause when ctx ends first. It is pipeline.TestSpec.Pushed.
func (p *pushing) wait(ctx context.Context) (string, error) {
	select {
	case <-p.done:
		return p.digest, p.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// awaitPush waits for j's push, writes its outcome and the engine's
// output to log, and sets j.digest. A failed push fails the stage:
// nothing is delivered.
func (r *Runner) awaitPush(ctx context.Context, j *job, log io.Writer) error {
	p := j.pushing
	waitFrom := now()
	digest, err := p.wait(ctx)
	if ctx.Err() != nil && err != nil {
		return err
	}
	waited := now().Sub(waitFrom)
	line := fmt.Sprintf("\npush of %s: started with the build stage's end at %s, took %s", p.ref, p.started.Format("15:04:05.000"), p.finished.Sub(p.started).Round(time.Millisecond))
	if waited >= time.Millisecond {
		line += fmt.Sprintf(", %s of it after the tests", waited.Round(time.Millisecond))
	}
	fmt.Fprintln(log, line)
	_, _ = log.Write(p.out.Bytes())
	if err != nil {
		return &pushError{ref: p.ref, err: err}
	}
	j.digest = digest
	fmt.Fprintf(log, "pushed %s@%s\n", p.ref, digest)
	return nil
}

// pushError is a failed push: "pushing REF failed: " and the engine's
// reason, which may start with "pushing REF: " too.
type pushError struct {
	ref string
	err error
}

func (e *pushError) Error() string {
	return "pushing " + e.ref + " failed: " + strings.TrimPrefix(e.err.Error(), "pushing "+e.ref+": ")
}

func (e *pushError) Unwrap() error { return e.err }

// stopPush ends j's push, if any: it is cancelled, if it still runs, and
// waited for.
func (r *Runner) stopPush(j *job) {
	p := j.pushing
	if p == nil {
		return
	}
	j.pushing = nil
	p.cancel(errPushDiscarded)
	<-p.done
}
