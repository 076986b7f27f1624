package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/hoistci/hoist/internal/pipeline"
)

// webLogBefore serves GET /p/{ns}/{name}/builds/{n}/logs/{stage}?before=OFFSET&line=N,
// what a "load earlier lines" link fetches: the numbered lines (HTML) of up
// to logTailBytes before byte OFFSET of the stage's log, where line N
// begins. X-Log-Start and X-Log-First say where the part begins, for the
// next link (X-Log-Start 0: the log's beginning is reached).
func (s *Server) webLogBefore(w http.ResponseWriter, r *http.Request) {
	_, b, err := s.webFindBuild(r)
	stage := pipeline.StageName(r.PathValue("stage"))
	if err == nil && !slices.Contains(pipeline.Stages, stage) {
		err = notFound("no stage %q; the stages are %v", stage, pipeline.Stages)
	}
	before, err1 := strconv.ParseInt(r.FormValue("before"), 10, 64)
	line, err2 := strconv.Atoi(r.FormValue("line"))
	if err == nil && (err1 != nil || err2 != nil || before < 0 || line < 1) {
		err = &apiError{Status: http.StatusBadRequest, Code: codeBadRequest,
			Message: fmt.Sprintf("before=%q and line=%q must be a byte offset and a line number", r.FormValue("before"), r.FormValue("line"))}
	}
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	part, err := s.readBefore(r.Context(), b.ID, stage, before, line, logTailBytes)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Log-Start", strconv.FormatInt(part.Start, 10))
	h.Set("X-Log-First", strconv.Itoa(part.First))
	writeBody(w, r, http.StatusOK, []byte(part.HTML))
}
