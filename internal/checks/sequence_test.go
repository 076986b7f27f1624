package checks

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestSequenceOrder writes to three sections from three goroutines, the
// last finishing first: the log reads section by section, and the first
// section's lines appear as they are written.
func TestSequenceOrder(t *testing.T) {
	var log bytes.Buffer
	q := newSequence(&log)
	a, b, c := q.section(), q.section(), q.section()

	fmt.Fprintln(c, "c1")
	fmt.Fprintln(b, "b1")
	fmt.Fprintln(a, "a1")
	if got := log.String(); got != "a1\n" {
		t.Fatalf("before any section is done, the log is %q; want only the first section's line, live", got)
	}
	c.Close()
	fmt.Fprintln(b, "b2")
	b.Close()
	if got := log.String(); got != "a1\n" {
		t.Fatalf("with the first section running, the log is %q; want the others held", got)
	}
	fmt.Fprintln(a, "a2")
	a.Close()
	if got, want := log.String(), "a1\na2\nb1\nb2\nc1\n"; got != want {
		t.Errorf("log %q, want %q", got, want)
	}
}

// TestSequenceWritesThroughWhenReached: once the sections before it are
// done, a section's later lines go straight to the log.
func TestSequenceWritesThroughWhenReached(t *testing.T) {
	var log bytes.Buffer
	q := newSequence(&log)
	a, b := q.section(), q.section()
	fmt.Fprintln(b, "b1")
	a.Close()
	fmt.Fprintln(b, "b2")
	if got, want := log.String(), "b1\nb2\n"; got != want {
		t.Errorf("log %q, want %q (b written through once a was done)", got, want)
	}
}

// TestSequenceConcurrent writes from many goroutines at once (run with
// -race): every section's lines stay together and in order.
func TestSequenceConcurrent(t *testing.T) {
	var log bytes.Buffer
	q := newSequence(&log)
	const n = 8
	secs := make([]*section, n)
	for i := range secs {
		secs[i] = q.section()
	}
	var wg sync.WaitGroup
	for i, s := range secs {
		wg.Go(func() {
			defer s.Close()
			for j := range 100 {
				fmt.Fprintf(s, "%d-%d\n", i, j)
			}
		})
	}
	wg.Wait()
	var want strings.Builder
	for i := range n {
		for j := range 100 {
			fmt.Fprintf(&want, "%d-%d\n", i, j)
		}
	}
	if log.String() != want.String() {
		t.Errorf("the log is not section by section:\n%s", log.String())
	}
}

// TestSequenceHoldsAtMost cuts a held section past maxHeld and says so.
func TestSequenceHoldsAtMost(t *testing.T) {
	var log bytes.Buffer
	q := newSequence(&log)
	a, b := q.section(), q.section()
	big := bytes.Repeat([]byte("x"), maxHeld/2+1)
	b.Write(big)
	b.Write(big) // 2 bytes over
	b.Close()
	a.Close()
	if got := log.Len(); got < maxHeld || got > maxHeld+200 {
		t.Errorf("log has %d bytes; want the %d held and a note", got, maxHeld)
	}
	if !strings.Contains(log.String(), "[2 bytes of output cut here") {
		t.Errorf("no note of the cut at the end: %q", log.String()[log.Len()-100:])
	}
}
