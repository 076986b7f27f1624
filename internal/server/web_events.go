package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// A build page follows a running build with one Server-Sent Events stream,
// /p/{ns}/{name}/builds/{n}/events?from=STAGE&at=OFFSET&line=N. It follows
// each stage's log in pipeline order from byte OFFSET of STAGE's log, where
// line N+1 begins (the page shows the lines before), on (s.followLog) and
// sends:
//
//	event: log    data: {"stage":"build","html":"…"}   the log's next lines, numbered (web_logview.go)
//	event: stage  data: {"stage":"build","status":"failed","summary":"…"}   a stage ended
//	event: done   data: {"status":"succeeded"}          the build ended; the page closes the stream
//
// Every event's id is "STAGE:OFFSET:LINE", the log position it reaches and
// the last line it sent, so a browser that reconnects (sending
// Last-Event-ID) goes on where it was.

// sseEvent is the data of one event.
type sseEvent struct {
	Stage   pipeline.StageName `json:"stage,omitempty"`
	HTML    string             `json:"html,omitempty"`
	Status  pipeline.Status    `json:"status,omitempty"`
	Summary string             `json:"summary,omitempty"`
}

// sseWriter writes events to a response and flushes each.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (sw sseWriter) send(event, id string, data sseEvent) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", event, err)
	}
	if id != "" {
		if _, err := fmt.Fprintf(sw.w, "id: %s\n", id); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(sw.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// webBuildEvents serves a build's event stream (see above).
func (s *Server) webBuildEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_, b, err := s.webFindBuild(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	start, offset, line := eventStart(r)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := sseWriter{w: w, rc: http.NewResponseController(w)}
	if err := sw.rc.Flush(); err != nil {
		return
	}
	for _, stage := range pipeline.Stages[start:] {
		l := newLogLines(stage, offset, line, nil)
		l.more = func() []pipeline.LogMark { return s.logMarks(ctx, b.ID, stage) }
		err := s.followLog(ctx, b.ID, stage, offset, func(chunk []byte) error {
			html := l.Write(chunk)
			if html == "" {
				return nil
			}
			return sw.send("log", logEventID(stage, l), sseEvent{Stage: stage, HTML: html})
		})
		if err != nil {
			if ctx.Err() == nil {
				s.deps.Logger.Warn("web: following a log", "build", b.ID, "stage", stage, "err", err)
			}
			return
		}
		if rest := l.Close(); rest != "" {
			if sw.send("log", logEventID(stage, l), sseEvent{Stage: stage, HTML: rest}) != nil {
				return
			}
		}
		if err := s.sendStage(r, sw, b, stage); err != nil {
			return
		}
		offset, line = 0, 0
	}
	if b, err = s.buildEnded(ctx, b.ID); err != nil {
		if ctx.Err() == nil {
			s.deps.Logger.Warn("web: reading a build", "build", b.ID, "err", err)
		}
		return
	}
	_ = sw.send("done", "done", sseEvent{Status: b.Status})
}

// buildEnded waits until the build is recorded as ended, polling: its last
// stage ends before the runner has cleaned up and recorded the build.
func (s *Server) buildEnded(ctx context.Context, id int64) (pipeline.Build, error) {
	poll := time.Duration(s.opts.LogPoll) * time.Millisecond
	for {
		b, err := s.deps.Store.Build(ctx, id)
		if err != nil || b.Status.Done() {
			return b, err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return b, ctx.Err()
		case <-t.C:
		}
	}
}

// sendStage sends the stage event of a stage that ended, with its
// section's summary line rendered.
func (s *Server) sendStage(r *http.Request, sw sseWriter, b pipeline.Build, stage pipeline.StageName) error {
	st := pipeline.Stage{BuildID: b.ID, Name: stage, Status: pipeline.StatusSkipped}
	stages, err := s.deps.Store.Stages(r.Context(), b.ID)
	if err != nil {
		return fmt.Errorf("reading stages of build %d: %w", b.ID, err)
	}
	for _, x := range stages {
		if x.Name == stage {
			st = x
		}
	}
	var buf bytes.Buffer
	if err := pages()["build"].ExecuteTemplate(&buf, "stage-summary", stageView{Stage: st}); err != nil {
		return fmt.Errorf("rendering the %s summary: %w", stage, err)
	}
	return sw.send("stage", fmt.Sprintf("%s:end", stage), sseEvent{Stage: stage, Status: st.Status, Summary: buf.String()})
}

// logEventID is the id of a log event: where the stream stands.
func logEventID(stage pipeline.StageName, l *logLines) string {
	off, line := l.Pos()
	return fmt.Sprintf("%s:%d:%d", stage, off, line)
}

// streamEnd as ?from= starts a build's stream after its last stage: it
// sends only "done", once the build is recorded as ended.
const streamEnd = "end"

// eventStart is where a stream starts: the stage index, log offset and
// number of the last line sent of Last-Event-ID ("build:1234:56", or
// "build:end" for after that stage), else of ?from=STAGE&at=OFFSET&line=N
// (at and line default to 0), else the first stage.
func eventStart(r *http.Request) (int, int64, int) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		name, pos, _ := strings.Cut(id, ":")
		if i := slices.Index(pipeline.Stages, pipeline.StageName(name)); i >= 0 {
			if pos == "end" {
				return i + 1, 0, 0
			}
			off, line, ok := logPos(pos)
			if ok {
				return i, off, line
			}
		}
		if id == "done" {
			return len(pipeline.Stages), 0, 0
		}
	}
	if r.FormValue("from") == streamEnd {
		return len(pipeline.Stages), 0, 0
	}
	if i := slices.Index(pipeline.Stages, pipeline.StageName(r.FormValue("from"))); i >= 0 {
		if off, line, ok := logPos(r.FormValue("at") + ":" + r.FormValue("line")); ok {
			return i, off, line
		}
		return i, 0, 0
	}
	return 0, 0, 0
}

// logPos parses "OFFSET:LINE" (each may be empty for 0).
func logPos(s string) (int64, int, bool) {
	o, l, _ := strings.Cut(s, ":")
	off, err1 := strconv.ParseInt(cmp.Or(o, "0"), 10, 64)
	line, err2 := strconv.Atoi(cmp.Or(l, "0"))
	if err1 != nil || err2 != nil || off < 0 || line < 0 {
		return 0, 0, false
	}
	return off, line, true
}
