package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// readLog reads the whole log of (id, stage) from offset with small reads.
func readLog(t *testing.T, s pipeline.Store, id int64, stage pipeline.StageName, offset int64) []byte {
	t.Helper()
	r, err := s.OpenLog(ctx(t), id, stage, offset)
	must(t, "OpenLog", err)
	defer r.Close()
	got, err := io.ReadAll(iotest.HalfReader(r))
	must(t, fmt.Sprintf("reading log %s from %d", stage, offset), err)
	return got
}

// appendChunks appends n numbered lines of growing length and returns the
// whole log.
func appendChunks(t *testing.T, s pipeline.Store, id int64, stage pipeline.StageName, n int) []byte {
	t.Helper()
	var all []byte
	for i := range n {
		line := fmt.Appendf(nil, "%s line %d %s\n", stage, i, bytes.Repeat([]byte{'x'}, i*7%50))
		must(t, "AppendLog", s.AppendLog(ctx(t), id, stage, line))
		all = append(all, line...)
	}
	return all
}

func testLogAppendRead(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	build := appendChunks(t, s, b.ID, pipeline.StageBuild, 200)
	test := appendChunks(t, s, b.ID, pipeline.StageTest, 3)
	if got := readLog(t, s, b.ID, pipeline.StageBuild, 0); !bytes.Equal(got, build) {
		t.Errorf("build log: read %d bytes, want the %d appended", len(got), len(build))
	}
	if got := readLog(t, s, b.ID, pipeline.StageTest, 0); !bytes.Equal(got, test) {
		t.Errorf("test log = %q, want %q", got, test)
	}
	r, err := s.OpenLog(ctx(t), b.ID, pipeline.StageBuild, 0)
	must(t, "OpenLog", err)
	defer r.Close()
	if err := iotest.TestReader(r, build); err != nil {
		t.Errorf("build log reader: %v", err)
	}
}

func testLogOffset(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	chunks := []string{"first chunk\n", "second chunk\n", "third\n"}
	var all string
	for _, c := range chunks {
		must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, []byte(c)))
		all += c
	}
	boundary := int64(len(chunks[0]))
	for _, off := range []int64{0, 3, boundary - 1, boundary, boundary + 4, int64(len(all)) - 1} {
		got := readLog(t, s, b.ID, pipeline.StageBuild, off)
		if string(got) != all[off:] {
			t.Errorf("log from offset %d = %q, want %q", off, got, all[off:])
		}
	}
	for _, off := range []int64{int64(len(all)), int64(len(all)) + 100} {
		if got := readLog(t, s, b.ID, pipeline.StageBuild, off); len(got) != 0 {
			t.Errorf("log from offset %d (at or past its end) = %q, want nothing", off, got)
		}
	}
}

func testLogEmpty(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, []byte("only build\n")))
	must(t, "AppendLog of nothing", s.AppendLog(ctx(t), b.ID, pipeline.StageTest, nil))
	for _, st := range []pipeline.StageName{pipeline.StageCheckout, pipeline.StageTest} {
		if got := readLog(t, s, b.ID, st, 0); len(got) != 0 {
			t.Errorf("empty log %s = %q, want nothing", st, got)
		}
	}
	if got := readLog(t, s, b.ID+1000, pipeline.StageBuild, 0); len(got) != 0 {
		t.Errorf("log of a missing build = %q, want nothing", got)
	}
}

func testLogSnapshot(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, []byte("before\n")))
	r, err := s.OpenLog(ctx(t), b.ID, pipeline.StageBuild, 0)
	must(t, "OpenLog", err)
	defer r.Close()
	must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, []byte("after\n")))
	got, err := io.ReadAll(r)
	must(t, "reading the log", err)
	if string(got) != "before\n" {
		t.Errorf("log opened before an append = %q, want %q", got, "before\n")
	}
	if got := readLog(t, s, b.ID, pipeline.StageBuild, int64(len(got))); string(got) != "after\n" {
		t.Errorf("log reopened at the previous end = %q, want %q", got, "after\n")
	}
}

func testLogMissingBuild(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	err := s.AppendLog(ctx(t), b.ID+1000, pipeline.StageBuild, []byte("x"))
	mustNotFound(t, "AppendLog to a missing build", err)
}

// testLogLarge appends 20 MB in pieces of uneven size and streams it back
// through a small buffer, comparing digests so that the test itself holds
// no copy of the log.
func testLogLarge(t *testing.T, s pipeline.Store) {
	const size = 20 << 20
	b := create(t, s, "a/x:latest")
	src := rand.NewChaCha8([32]byte{'h', 'o', 'i', 's', 't'})
	want := sha256.New()
	buf := make([]byte, 3<<20)
	for written := 0; written < size; {
		n := min(len(buf)-written%1000, size-written)
		src.Read(buf[:n])
		want.Write(buf[:n])
		must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, buf[:n]))
		written += n
	}
	r, err := s.OpenLog(ctx(t), b.ID, pipeline.StageBuild, 0)
	must(t, "OpenLog", err)
	defer r.Close()
	got := sha256.New()
	n, err := io.CopyBuffer(struct{ io.Writer }{got}, struct{ io.Reader }{r}, make([]byte, 32<<10))
	must(t, "reading the 20 MB log", err)
	if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("read %d bytes with sha256 %x, want %d bytes with %x", n, got.Sum(nil), size, want.Sum(nil))
	}
}

// testLogMarks: every append leaves a mark at the log's new length, stored
// at the time of the append, in order; an empty log has none.
func testLogMarks(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	before := time.Now().Add(-time.Second)
	must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, []byte("one\n")))
	time.Sleep(20 * time.Millisecond)
	must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, []byte("two\nthree\n")))
	after := time.Now().Add(time.Second)
	marks, err := s.LogMarks(ctx(t), b.ID, pipeline.StageBuild)
	must(t, "LogMarks", err)
	if len(marks) != 2 || marks[0].End != 4 || marks[1].End != 14 {
		t.Fatalf("LogMarks = %+v, want ends 4 and 14", marks)
	}
	for i, m := range marks {
		if m.At.Before(before) || m.At.After(after) {
			t.Errorf("mark %d stored at %v, want between %v and %v", i, m.At, before, after)
		}
		mustUTC(t, "mark", m.At)
	}
	if !marks[1].At.After(marks[0].At) {
		t.Errorf("second mark at %v, not after the first at %v", marks[1].At, marks[0].At)
	}
	if marks, err := s.LogMarks(ctx(t), b.ID, pipeline.StageTest); err != nil || len(marks) != 0 {
		t.Errorf("LogMarks of an empty log = %+v, %v; want none", marks, err)
	}
}
