package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// logWriter appends a stage's output to the log store as it arrives. It
// buffers at most flushSize bytes or flushEvery of output, so a log is
// durable within a fraction of a second and never held whole in memory.
// Past limit bytes it writes one marker line and drops the rest of the
// output; the stage itself goes on.
type logWriter struct {
	ctx     context.Context
	logs    logAppender
	buildID int64
	stage   pipeline.StageName
	tee     func([]byte)
	limit   int64

	mu      sync.Mutex
	buf     []byte
	written int64 // bytes of output kept, markers excluded
	cut     bool
	err     error
	timer   *time.Timer
}

const (
	flushSize  = 32 << 10
	flushEvery = 250 * time.Millisecond
)

// logAppender is where a logWriter stores a stage's log.
type logAppender interface {
	AppendLog(ctx context.Context, buildID int64, stage pipeline.StageName, p []byte) error
}

func newLogWriter(ctx context.Context, logs logAppender, buildID int64, stage pipeline.StageName, limit int64, tee func([]byte)) *logWriter {
	return &logWriter{ctx: context.WithoutCancel(ctx), logs: logs, buildID: buildID, stage: stage, limit: limit, tee: tee}
}

// Write keeps p up to the limit, buffers it and flushes when the buffer is
// full; a timer flushes the rest. It never fails the caller: a store error
// is kept for Close, and output past the limit is dropped silently.
func (w *logWriter) Write(p []byte) (int, error) {
	n := len(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut {
		return n, nil
	}
	if room := w.limit - w.written; int64(len(p)) > room {
		p = p[:max(room, 0)]
		w.cut = true
	}
	w.written += int64(len(p))
	w.appendLocked(p)
	if w.cut {
		w.appendLocked(fmt.Appendf(nil, "\n[hoist] log cut: this stage wrote more than %s; the rest was dropped\n", formatSize(w.limit)))
	}
	return n, nil
}

// note writes a line of Hoist's own, such as why the stage failed, even
// past the limit.
func (w *logWriter) note(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.appendLocked([]byte(s))
}

func (w *logWriter) appendLocked(p []byte) {
	if len(p) == 0 {
		return
	}
	if w.tee != nil {
		w.tee(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= flushSize {
		w.flushLocked()
	} else if w.timer == nil {
		w.timer = time.AfterFunc(flushEvery, w.flush)
	}
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

func (w *logWriter) flushLocked() {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if len(w.buf) == 0 {
		return
	}
	if err := w.logs.AppendLog(w.ctx, w.buildID, w.stage, w.buf); err != nil && w.err == nil {
		w.err = err
	}
	w.buf = w.buf[:0]
}

// Close flushes what is left and returns the first store error.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
}

// formatSize says n bytes the way people write it: "50 MB", "4 KB", "100 bytes"
// (a KB is 1024 bytes, as in Docker's sizes).
func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
