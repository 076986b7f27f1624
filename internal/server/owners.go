package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// errForbidden refuses a signed-in user what their role does not allow.
var errForbidden = errors.New("forbidden")

// mayChange returns nil when u may change, delete, build, cancel and scan
// the projects of the namespace ns: admins and the namespace's
// maintainers may. Otherwise the error matches errForbidden.
func (s *Server) mayChange(ctx context.Context, u pipeline.User, ns string) error {
	if u.Admin {
		return nil
	}
	role, err := s.deps.Store.Role(ctx, ns, u.ID)
	switch {
	case err == nil && role == pipeline.RoleMaintainer:
		return nil
	case err != nil && !errors.Is(err, pipeline.ErrNotFound):
		return fmt.Errorf("checking the role of %s in %s: %w", u.Name, ns, err)
	}
	return fmt.Errorf("%w: %s may not change the projects of the namespace %s: only its maintainers and admins may; "+
		"ask an admin to run: hoist namespace grant %s %s maintainer", errForbidden, u.Name, ns, ns, u.Name)
}

// mayRegister returns nil when u may register a project in the namespace
// ns, making u its maintainer when nobody owns it yet (no namespace and no
// project in it): the first namespace a user registers into is theirs.
// Otherwise the error matches errForbidden and is a FieldErrors on name.
func (s *Server) mayRegister(ctx context.Context, u pipeline.User, ns string) error {
	err := s.mayChange(ctx, u, ns)
	if !errors.Is(err, errForbidden) {
		return err
	}
	claimed, cerr := s.deps.Store.ClaimNamespace(ctx, ns, u.ID, time.Now())
	switch {
	case cerr != nil:
		return fmt.Errorf("claiming the namespace %s: %w", ns, cerr)
	case claimed:
		s.deps.Logger.Info("namespace claimed", "namespace", ns, "by", u.Name)
		return nil
	default:
		msg := fmt.Sprintf("is in the namespace %s, which belongs to others: only its maintainers and admins may register projects in it; "+
			"choose another namespace, or ask an admin to run: hoist namespace grant %s %s maintainer", ns, ns, u.Name)
		return fmt.Errorf("%w: %w", errForbidden, FieldErrors{{"name", msg}})
	}
}

// namespaceOf is the namespace (app-id) of the project with key.
func namespaceOf(key string) string {
	ref, err := pipeline.ParseImageRef(key)
	if err != nil {
		ns, _, _ := strings.Cut(key, "/")
		return ns
	}
	if ref.Namespace == "" {
		return pipeline.LibraryNamespace
	}
	return ref.Namespace
}

// maintains lets h run only when the request's user may change the
// projects of the namespace in its path ({ns}); else 403 and nothing
// changes, or 404 as for a project that does not exist when they may not
// even read it (reads are private and they are no member). It runs inside
// needWriter.
func (s *Server) maintains(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ns := namespaceOf(r.PathValue("ns") + "/" + r.PathValue("name"))
		if !s.seesNS(r.Context(), ns) {
			s.fail(w, r, s.noProject(r))
			return
		}
		if err := s.mayChange(r.Context(), userOf(r), ns); err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r)
	}
}

// maintainsBuild is maintains for routes that name a build by {id}: the
// namespace is that of the build's project, and a build its user may not
// read answers as one that does not exist. An unknown build is left to h.
func (s *Server) maintainsBuild(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			h(w, r)
			return
		}
		b, err := s.deps.Store.Build(r.Context(), id)
		switch {
		case err == nil && !s.sees(r.Context(), b.Project):
			err = noBuild(id)
		case err == nil:
			err = s.mayChange(r.Context(), userOf(r), namespaceOf(b.Project))
		case errors.Is(err, pipeline.ErrNotFound):
			err = nil
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r)
	}
}

// fail answers err: JSON under /api/, else the UI's error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	s.webFail(w, r, err)
}

// mayFor returns page.May's function for the request's user: whether
// they may change the project with key.
func (s *Server) mayFor(r *http.Request, u pipeline.User) func(key string) bool {
	return func(key string) bool { return s.mayChange(r.Context(), u, namespaceOf(key)) == nil }
}
