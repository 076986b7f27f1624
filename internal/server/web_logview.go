package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The build page's log viewer: each line of a stage's log is one
//
//	<span id="STAGE-LN" data-t="UNIX-MS"><a href="#STAGE-LN">N</a>TEXT
//	</span>
//
// so a line can be linked to (#build-L12, a range #test-L3-L9), highlighted
// and searched; data-t is when the line was stored, for the timestamps
// toggle, left out when it is the previous line's (a stored piece holds
// many lines). hoist.js does the rest in the browser.

// maxLine bounds a line held back for its end: a longer one is shown in
// pieces, each numbered as a line.
const maxLine = 64 << 10

// logLines renders a stage's log as numbered lines. It streams: Write
// renders the complete lines and keeps an unfinished one for later; Close
// renders that one. ANSI colours carry over from line to line.
type logLines struct {
	stage pipeline.StageName
	a     ansiHTML
	line  int    // the number of the last line rendered
	off   int64  // the log offset of the first byte of pending
	pend  []byte // an unfinished line
	marks []pipeline.LogMark
	lastT int64 // the time of the last line rendered with one
	// more, when set, is asked for fresh marks when a line lies past the
	// last one known (a log that grows while it is followed).
	more func() []pipeline.LogMark
}

// newLogLines starts rendering the log of stage at offset off, where line
// number line+1 begins.
func newLogLines(stage pipeline.StageName, off int64, line int, marks []pipeline.LogMark) *logLines {
	return &logLines{stage: stage, off: off, line: line, marks: marks}
}

// Write renders the complete lines of p (with what an earlier call kept).
func (l *logLines) Write(p []byte) string {
	var out strings.Builder
	l.pend = append(l.pend, p...)
	for {
		i := bytes.IndexByte(l.pend, '\n')
		if i < 0 && len(l.pend) >= maxLine {
			i = maxLine - 1
		}
		if i < 0 {
			break
		}
		l.render(&out, l.pend[:i+1])
		l.pend = l.pend[i+1:]
	}
	if len(l.pend) == 0 {
		l.pend = nil
	}
	return out.String()
}

// Close renders an unfinished last line.
func (l *logLines) Close() string {
	if len(l.pend) == 0 {
		return ""
	}
	var out strings.Builder
	l.render(&out, l.pend)
	l.pend = nil
	return out.String()
}

// Pos is the offset up to which the log was rendered, and the number of
// the last line rendered: where a stream goes on.
func (l *logLines) Pos() (int64, int) { return l.off, l.line }

// render writes one line (with its newline, if it has one).
func (l *logLines) render(out *strings.Builder, line []byte) {
	l.line++
	id := fmt.Sprintf("%s-L%d", l.stage, l.line)
	out.WriteString(`<span id="` + id + `"`)
	if t := l.timeAt(l.off); t != 0 && t != l.lastT {
		l.lastT = t
		out.WriteString(` data-t="` + strconv.FormatInt(t, 10) + `"`)
	}
	fmt.Fprintf(out, `><a href="#%s">%d</a>`, id, l.line)
	l.off += int64(len(line))
	text := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	out.WriteString(l.a.Write(text))
	out.WriteString(l.a.Close())
	out.WriteString("\n</span>")
}

// timeAt is when the byte at off was stored, in Unix milliseconds, 0 when
// unknown.
func (l *logLines) timeAt(off int64) int64 {
	find := func() int { return sort.Search(len(l.marks), func(i int) bool { return l.marks[i].End > off }) }
	i := find()
	if i == len(l.marks) && l.more != nil {
		l.marks = l.more()
		i = find()
	}
	if i == len(l.marks) || l.marks[i].At.IsZero() {
		return 0
	}
	return l.marks[i].At.UnixMilli()
}

// logMarks reads the marks of a stage's log; a store that fails to answer
// costs only the timestamps.
func (s *Server) logMarks(ctx context.Context, buildID int64, stage pipeline.StageName) []pipeline.LogMark {
	marks, err := s.deps.Store.LogMarks(ctx, buildID, stage)
	if err != nil {
		s.deps.Logger.Warn("web: reading log times", "build", buildID, "stage", stage, "err", err)
	}
	return marks
}

// logPart is a part of a stage's log, rendered as lines.
type logPart struct {
	HTML  string
	Start int64  // the offset of its first byte
	First int    // the number of its first line
	End   int64  // the offset after its last rendered line
	Lines int    // the number of its last line
	Raw   []byte // the bytes rendered (readTail only)
}

// readTail reads a stage's log through and renders its last max bytes (from
// a line's start) as numbered lines; the lines before are counted, not
// kept. With whole false an unfinished last line is left out (a stage
// still writing it).
func (s *Server) readTail(ctx context.Context, buildID int64, stage pipeline.StageName, max int, whole bool) (logPart, error) {
	rc, err := s.deps.Store.OpenLog(ctx, buildID, stage, 0)
	if err != nil {
		return logPart{}, fmt.Errorf("reading the %s log of build %d: %w", stage, buildID, err)
	}
	defer rc.Close()
	var keep []byte
	var start int64 // the offset of keep[0]
	lines := 0      // the lines wholly before keep
	buf := make([]byte, 32<<10)
	drop := func(n int) {
		lines += bytes.Count(keep[:n], []byte("\n"))
		start += int64(n)
		keep = append(keep[:0:0], keep[n:]...)
	}
	for {
		n, err := rc.Read(buf)
		keep = append(keep, buf[:n]...)
		if len(keep) > 2*max {
			drop(len(keep) - max)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return logPart{}, fmt.Errorf("reading the %s log of build %d: %w", stage, buildID, err)
		}
	}
	if len(keep) > max {
		drop(len(keep) - max)
	}
	if start > 0 {
		if i := bytes.IndexByte(keep, '\n'); i >= 0 {
			drop(i + 1)
		}
	}
	l := newLogLines(stage, start, lines, s.logMarks(ctx, buildID, stage))
	html := l.Write(keep)
	if whole {
		html += l.Close()
	}
	end, last := l.Pos()
	return logPart{HTML: html, Start: start, First: lines + 1, End: end, Lines: last, Raw: keep[:end-start]}, nil
}

// readBefore renders the lines of a stage's log in the max bytes before
// offset before, where line number line begins: the part a "load earlier"
// link asks for.
func (s *Server) readBefore(ctx context.Context, buildID int64, stage pipeline.StageName, before int64, line, max int) (logPart, error) {
	start := before - int64(max)
	if start < 0 {
		start = 0
	}
	rc, err := s.deps.Store.OpenLog(ctx, buildID, stage, start)
	if err != nil {
		return logPart{}, fmt.Errorf("reading the %s log of build %d: %w", stage, buildID, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, before-start))
	if err != nil {
		return logPart{}, fmt.Errorf("reading the %s log of build %d: %w", stage, buildID, err)
	}
	if i := bytes.IndexByte(data, '\n'); start > 0 && i >= 0 && i+1 < len(data) {
		data, start = data[i+1:], start+int64(i+1) // from a line's start
	}
	first := line - bytes.Count(data, []byte("\n"))
	l := newLogLines(stage, start, first-1, s.logMarks(ctx, buildID, stage))
	html := l.Write(data) + l.Close()
	return logPart{HTML: html, Start: start, First: first, End: before, Lines: line - 1}, nil
}
