package server

import (
	"fmt"
	"io"
	"net/http"

	"github.com/hoistci/hoist/internal/pipeline"
)

// apiBuildLog serves GET /api/v1/builds/{id}/log: the whole build's log as
// plain text, every stage in pipeline order under a header line
//
//	==> build: succeeded (12s)
//
// streamed from the store, never held whole. A stage that has not run is
// listed with its status and no lines.
func (s *Server) apiBuildLog(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := findBuild(r, s.deps.Store)
	var stages []pipeline.Stage
	if err == nil {
		if stages, err = s.deps.Store.Stages(ctx, b.ID); err != nil {
			err = fmt.Errorf("reading stages of build %d: %w", b.ID, err)
		}
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	byName := map[pipeline.StageName]pipeline.Stage{}
	for _, st := range stages {
		byName[st.Name] = st
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s"`, buildLogName(b)))
	fmt.Fprintf(w, "# %s #%d: %s\n", b.Project, b.Number, b.Status)
	for _, name := range pipeline.Stages {
		st, ok := byName[name]
		status := string(st.Status)
		switch {
		case !ok && b.Status.Done():
			status = string(pipeline.StatusSkipped)
		case !ok:
			status = string(pipeline.StatusQueued)
		case st.Duration() > 0:
			status += " (" + humanDuration(st.Duration()) + ")"
		}
		fmt.Fprintf(w, "==> %s: %s\n", name, status)
		if !ok {
			continue
		}
		if err := s.copyLog(w, r, b.ID, name); err != nil {
			s.deps.Logger.Debug("sending a build's log", "build", b.ID, "stage", name, "err", err)
			return
		}
	}
}

// copyLog writes the stage's log as stored now, ending with a newline.
func (s *Server) copyLog(w io.Writer, r *http.Request, id int64, stage pipeline.StageName) error {
	rc, err := s.deps.Store.OpenLog(r.Context(), id, stage, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	last := &lastByte{w: w}
	if _, err := io.Copy(last, rc); err != nil {
		return err
	}
	if last.n > 0 && last.b != '\n' {
		_, err = io.WriteString(w, "\n")
	}
	return err
}

// lastByte passes writes on and remembers the last byte written.
type lastByte struct {
	w io.Writer
	b byte
	n int64
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.b, l.n = p[n-1], l.n+int64(n)
	}
	return n, err
}

// buildLogName is the file name a build's whole log downloads as.
func buildLogName(b pipeline.Build) string {
	name := []byte(b.Project)
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			name[i] = '-'
		}
	}
	return fmt.Sprintf("%s-%d.log", name, b.Number)
}
