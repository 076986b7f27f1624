package autotest

import (
	"bytes"
	"io"
	"sync"
)

// lockedWriter serialises writes from several goroutines to one log, and
// drops them once closed, so nothing reaches the log after Run returns.
type lockedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.w == nil {
		return len(p), nil
	}
	_, _ = l.w.Write(p) // a failing log must not stop the test
	return len(p), nil
}

func (l *lockedWriter) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

// prefixWriter writes whole lines to out, each with prefix, and copies
// everything to tee when set.
type prefixWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	tee    io.Writer
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tee != nil {
		_, _ = w.tee.Write(p)
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 16<<10 { // a very long line goes out in pieces
		w.line(append(w.buf, '\n'))
		w.buf = nil
	}
	return len(p), nil
}

// flush writes a last partial line.
func (w *prefixWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(append(w.buf, '\n'))
		w.buf = nil
	}
}

func (w *prefixWriter) line(l []byte) {
	_, _ = w.out.Write(append([]byte(w.prefix), l...))
}

// countingWriter counts the bytes written to w through it. One goroutine
// at a time writes to it.
type countingWriter struct {
	w *prefixWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// skipWriter drops the first skip bytes written to it and writes the rest
// to w.
type skipWriter struct {
	w    io.Writer
	skip int64
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip >= int64(n) {
		s.skip -= int64(n)
		return n, nil
	}
	_, err := s.w.Write(p[s.skip:])
	s.skip = 0
	return n, err
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	cut   bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "[…]\n" + string(t.buf)
	}
	return string(t.buf)
}
