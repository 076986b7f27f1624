package server

import (
	"net/http"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// webProjectOrTags serves /p/{ns}/{name}. Without a tag the name means
// :latest; when the image has no :latest project, the project of its one
// tag opens, or, with several tags, a page lists them.
func (s *Server) webProjectOrTags(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	pp, perr := s.projectPage(r, beforeOf(r))
	if perr == nil || strings.Contains(name, ":") || toAPIError(perr).Status != http.StatusNotFound {
		s.showProject(w, r, pp, perr)
		return
	}
	all, err := s.visibleStore().Projects(r.Context())
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	var tags []pipeline.Project
	for _, p := range all {
		ref := p.Image()
		if ref.Name == name && (ref.Namespace == ns || ref.Namespace == "" && ns == pipeline.LibraryNamespace) {
			tags = append(tags, p)
		}
	}
	switch len(tags) {
	case 0:
		s.showProject(w, r, nil, perr) // its 404
	case 1:
		http.Redirect(w, r, "/p/"+projectPath(tags[0].Key()), http.StatusFound)
	default:
		s.render(w, r, http.StatusOK, "tags", "layout", s.newPage(w, r, ns+"/"+name, "projects", tagsData{Image: ns + "/" + name, Projects: tags}))
	}
}

// tagsData is the page of an image's tags.
type tagsData struct {
	Image    string
	Projects []pipeline.Project
}

// webNotFound answers a page no route serves, in the site's layout.
func (s *Server) webNotFound(w http.ResponseWriter, r *http.Request) {
	s.webError(w, r, http.StatusNotFound, "There is no page "+r.URL.Path+" here.")
}
