package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// A build page follows a running build with one Server-Sent Events stream,
// /p/{ns}/{name}/builds/{n}/events?from=STAGE. It follows each stage's log
// in pipeline order from STAGE on (s.followLog) and sends:
//
//	event: log    data: {"stage":"build","html":"…"}   the log's next lines, as HTML
//	event: stage  data: {"stage":"build","status":"failed","summary":"…"}   a stage ended
//	event: done   data: {"status":"succeeded"}          the build ended; the page closes the stream
//
// Every event's id is "STAGE:OFFSET", the log position it reaches, so a
// browser that reconnects (sending Last-Event-ID) goes on where it was.

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
	start, offset := eventStart(r)
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
		var a ansiHTML
		pos := offset
		err := s.followLog(ctx, b.ID, stage, offset, func(chunk []byte) error {
			pos += int64(len(chunk))
			html := a.Write(chunk)
			if html == "" {
				return nil
			}
			return sw.send("log", fmt.Sprintf("%s:%d", stage, pos-int64(len(a.pending))), sseEvent{Stage: stage, HTML: html})
		})
		if err != nil {
			if ctx.Err() == nil {
				s.deps.Logger.Warn("web: following a log", "build", b.ID, "stage", stage, "err", err)
			}
			return
		}
		if rest := a.Close(); rest != "" {
			if sw.send("log", fmt.Sprintf("%s:%d", stage, pos), sseEvent{Stage: stage, HTML: rest}) != nil {
				return
			}
		}
		if err := s.sendStage(r, sw, b, stage); err != nil {
			return
		}
		offset = 0
	}
	if b, err = s.deps.Store.Build(ctx, b.ID); err != nil {
		s.deps.Logger.Warn("web: reading a build", "build", b.ID, "err", err)
		return
	}
	_ = sw.send("done", "done", sseEvent{Status: b.Status})
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

// eventStart is where a stream starts: the stage index and log offset of
// Last-Event-ID ("build:1234", or "build:end" for after that stage), else
// the stage ?from= names at offset 0, else the first stage.
func eventStart(r *http.Request) (int, int64) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		name, pos, _ := strings.Cut(id, ":")
		if i := slices.Index(pipeline.Stages, pipeline.StageName(name)); i >= 0 {
			if pos == "end" {
				return i + 1, 0
			}
			if off, err := strconv.ParseInt(pos, 10, 64); err == nil && off >= 0 {
				return i, off
			}
		}
		if id == "done" {
			return len(pipeline.Stages), 0
		}
	}
	if i := slices.Index(pipeline.Stages, pipeline.StageName(r.FormValue("from"))); i >= 0 {
		return i, 0
	}
	return 0, 0
}
