package server

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// apiStageLog serves GET /api/v1/builds/{id}/stages/{stage}/log as plain
// text from ?offset=N (bytes, default 0). With ?follow=true it streams,
// flushing as the log grows, until the stage ends.
func (s *Server) apiStageLog(w http.ResponseWriter, r *http.Request) {
	log := s.deps.Logger
	stage := pipeline.StageName(r.PathValue("stage"))
	b, err := findBuild(r, s.deps.Store)
	if err == nil && !slices.Contains(pipeline.Stages, stage) {
		err = &apiError{Status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("no stage %q; the stages are %v", stage, pipeline.Stages)}
	}
	offset, oerr := intParam(r, "offset", 0)
	follow := r.URL.Query().Get("follow")
	if err == nil && oerr != nil {
		err = oerr
	}
	if err == nil && follow != "" && follow != "true" && follow != "false" && follow != "1" && follow != "0" {
		err = &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: "follow",
			Message: fmt.Sprintf("query parameter follow=%q must be true or false", follow)}
	}
	if err != nil {
		apiFail(log, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if follow != "true" && follow != "1" {
		rc, err := s.deps.Store.OpenLog(r.Context(), b.ID, stage, offset)
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("opening log: %w", err))
			return
		}
		defer rc.Close()
		if _, err := io.Copy(w, rc); err != nil {
			log.Debug("sending log", "build", b.ID, "stage", stage, "err", err)
		}
		return
	}
	s.streamLog(w, r, b.ID, stage, offset)
}

// streamLog follows a stage's log onto w, flushing after every chunk.
func (s *Server) streamLog(w http.ResponseWriter, r *http.Request, id int64, stage pipeline.StageName, offset int64) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a follow lasts as long as the stage
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	err := s.followLog(r.Context(), id, stage, offset, func(p []byte) error {
		if _, err := w.Write(p); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && r.Context().Err() == nil {
		s.deps.Logger.Warn("following log", "build", id, "stage", stage, "err", err)
	}
}
