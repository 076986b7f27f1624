package checks

import (
	"context"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// target is the one container of the image under test, with its own
// command, that the "starts" check watches, the "ports" check probes and a
// sandboxed test-script joins (it shares its network). It is started once,
// by whichever needs it first, and removed when the test stage ends:
// force-removed, which kills it, with no grace period to wait out; by
// TestSpec.Defer's caller, beside the stages after it, when it takes that.
type target struct {
	c     pipeline.Containers
	image string

	once    sync.Once
	id      string
	err     error
	started time.Time

	// exited is closed once the container has exited, with code its
	// status; it stays open while it runs, and when it could not be
	// waited for (the test stage ended first).
	exited chan struct{}
	code   int
	ended  time.Time
	stop   context.CancelFunc // ends the wait
}

func newTarget(c pipeline.Containers, image string) *target {
	return &target{c: c, image: image, exited: make(chan struct{})}
}

// start starts the container, once, and returns its ID; callers after the
// first wait for the first and get its result.
func (t *target) start(ctx context.Context) (string, error) {
	t.once.Do(func() {
		t.id, t.err = t.c.StartContainer(ctx, pipeline.ContainerSpec{
			Image:  t.image,
			Labels: map[string]string{"io.hoist.check": "starts"},
		})
		t.started = time.Now()
		if t.err != nil {
			return
		}
		wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		t.stop = stop
		go func() {
			if code, err := t.c.WaitContainer(wctx, t.id); err == nil {
				t.code, t.ended = code, time.Now()
				close(t.exited)
			}
		}()
	})
	return t.id, t.err
}

// up is how long the container has run: since it started, or until it
// exited.
func (t *target) up() time.Duration {
	select {
	case <-t.exited:
		return t.ended.Sub(t.started)
	default:
		return time.Since(t.started)
	}
}

// close keeps anyone from starting the container from now on, and returns
// its ID, "" if it was not started.
func (t *target) close() string {
	t.once.Do(func() {})
	return t.id
}

// remove kills and removes the container if it was started.
func (t *target) remove(ctx context.Context) error {
	if t.close() == "" {
		return nil
	}
	if t.stop != nil {
		t.stop()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return t.c.RemoveContainer(cctx, t.id)
}
