package runner

import (
	"context"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// logWriter appends a stage's output to the log store as it arrives. It
// buffers at most flushSize bytes or flushEvery of output, so a log is
// durable within a fraction of a second and never held whole in memory.
type logWriter struct {
	ctx     context.Context
	logs    pipeline.LogStore
	buildID int64
	stage   pipeline.StageName
	tee     func([]byte)

	mu    sync.Mutex
	buf   []byte
	err   error
	timer *time.Timer
}

const (
	flushSize  = 32 << 10
	flushEvery = 250 * time.Millisecond
)

func newLogWriter(ctx context.Context, logs pipeline.LogStore, buildID int64, stage pipeline.StageName, tee func([]byte)) *logWriter {
	return &logWriter{ctx: context.WithoutCancel(ctx), logs: logs, buildID: buildID, stage: stage, tee: tee}
}

// Write buffers p and flushes when the buffer is full; a timer flushes the
// rest. It never fails the caller: a store error is kept for Close.
func (w *logWriter) Write(p []byte) (int, error) {
	if w.tee != nil {
		w.tee(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) >= flushSize {
		w.flushLocked()
	} else if w.timer == nil {
		w.timer = time.AfterFunc(flushEvery, w.flush)
	}
	return len(p), nil
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
