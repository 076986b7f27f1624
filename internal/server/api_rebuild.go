package server

import (
	"fmt"
	"net/http"
)

// apiRebuild serves POST /api/v1/builds/{id}/rebuild: it queues a forced
// build of the finished build's commit (Queue.Rebuild) and answers 202 with
// it; 409 while the build runs or when its project has a build queued.
func (s *Server) apiRebuild(w http.ResponseWriter, r *http.Request) {
	old, err := findBuild(r, s.deps.Store)
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	b, err := s.deps.Queue.Rebuild(r.Context(), old.ID, userOf(r).Name)
	if err != nil {
		apiFail(s.deps.Logger, w, r, fmt.Errorf("rebuilding build %d: %w", old.ID, err))
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/builds/%d", apiPrefix, b.ID))
	writeJSON(w, http.StatusAccepted, map[string]any{"build": toBuildJSON(b)})
}

// webRebuild serves POST /p/{ns}/{name}/builds/{n}/rebuild, the build
// page's Rebuild button: it queues the rebuild and opens its page.
func (s *Server) webRebuild(w http.ResponseWriter, r *http.Request) {
	_, old, err := s.webFindBuild(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	b, err := s.deps.Queue.Rebuild(r.Context(), old.ID, userOf(r).Name)
	if err != nil {
		s.webFail(w, r, fmt.Errorf("rebuilding #%d of %s: %w", old.Number, old.Project, err))
		return
	}
	http.Redirect(w, r, buildURL(b), http.StatusSeeOther)
}
