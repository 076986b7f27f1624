package checks

import (
	"fmt"
	"io"
	"sync"
)

// maxHeld bounds what one section holds back while an earlier one is
// still running; past it the section's output is cut, and says so.
const maxHeld = 8 << 20

// sequence lets checks that run at the same time write one log that reads
// as if they had run one after another: each writes to its own section,
// in the order the sections were made. The first section that is not done
// writes straight through (live); the later ones are held and written out
// when every section before them is done.
type sequence struct {
	mu   sync.Mutex
	w    io.Writer
	secs []*section
	cur  int // the section that writes through
}

func newSequence(w io.Writer) *sequence { return &sequence{w: w} }

// section adds a section after the ones made so far.
func (q *sequence) section() *section {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := &section{q: q, i: len(q.secs)}
	q.secs = append(q.secs, s)
	return s
}

// section is one check's part of a sequence. Close it when the check is
// done, also when it failed.
type section struct {
	q    *sequence
	i    int
	held []byte
	cut  int64 // bytes dropped past maxHeld
	done bool
}

func (s *section) Write(p []byte) (int, error) {
	q := s.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cur == s.i {
		return q.w.Write(p)
	}
	if room := maxHeld - len(s.held); room < len(p) {
		s.held = append(s.held, p[:max(room, 0)]...)
		s.cut += int64(len(p) - max(room, 0))
		return len(p), nil
	}
	s.held = append(s.held, p...)
	return len(p), nil
}

// Close marks the section done and writes out what later sections held,
// up to the next one still running, which then writes through.
func (s *section) Close() error {
	q := s.q
	q.mu.Lock()
	defer q.mu.Unlock()
	s.done = true
	var err error
	for q.cur < len(q.secs) {
		c := q.secs[q.cur]
		if len(c.held) > 0 {
			if _, werr := q.w.Write(c.held); werr != nil && err == nil {
				err = werr
			}
			c.held = nil
		}
		if c.cut > 0 {
			fmt.Fprintf(q.w, "[%d bytes of output cut here: held while earlier checks ran, it passed %d MiB]\n", c.cut, maxHeld>>20)
			c.cut = 0
		}
		if !c.done {
			break
		}
		q.cur++
	}
	return err
}
