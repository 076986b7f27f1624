package pipeline

import (
	"context"
	"sync"
)

type handoffKey struct{}

// handoff is the func a build's context carries, called at most once.
type handoff struct {
	once sync.Once
	f    func()
}

// WithHandoff returns ctx carrying f, which the build run with ctx calls
// (through HandOff) once its build stage has ended and it goes on with
// its test, scan and deliver: the scheduler's worker it held may then take
// the next build. f is called at most once, from the build's goroutine;
// it is not called when the build ends before (a failure, a skip, a
// cancel), which the scheduler sees from the build's end.
func WithHandoff(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, handoffKey{}, &handoff{f: f})
}

// HandOff calls the func ctx carries (see WithHandoff), once; it does
// nothing when ctx carries none or it was called before.
func HandOff(ctx context.Context) {
	if h, ok := ctx.Value(handoffKey{}).(*handoff); ok {
		h.once.Do(h.f)
	}
}
