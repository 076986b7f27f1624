package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Who reads what. When reading is public (Options.PublicRead) anyone reads
// everything. Otherwise an admin reads everything and any other signed-in
// user reads only the projects of the namespaces they are a member of
// (maintainer or viewer), with their builds, logs, scans and artifacts.
// Whatever else is asked for answers 404 exactly as something that does
// not exist, and lists and live streams leave it out. The decision is by
// namespace only, never by whether the thing exists, so that asking tells
// nothing about what others have.

// scopeKey keys a request's *readScope in its context.
type scopeKey struct{}

// readScope is what one request may read when reading is private: the
// namespaces its user may read, looked up once each.
type readScope struct {
	all  bool          // an admin
	user pipeline.User // the signed-in user; ID 0 for none

	mu sync.Mutex
	ns map[string]bool
}

// withScope returns r with the read scope of the user a authenticates.
func withScope(r *http.Request, a authn) *http.Request {
	sc := &readScope{ns: map[string]bool{}}
	if a.ok {
		sc.user, sc.all = a.user, a.user.Admin
	}
	return r.WithContext(context.WithValue(r.Context(), scopeKey{}, sc))
}

// seesNS reports whether the request of ctx may read the projects of the
// namespace ns. A request without a scope (not through needReader or
// needWriter) reads nothing unless reading is public.
func (s *Server) seesNS(ctx context.Context, ns string) bool {
	if s.opts.PublicRead {
		return true
	}
	sc, _ := ctx.Value(scopeKey{}).(*readScope)
	switch {
	case sc == nil || sc.user.ID == 0:
		return false
	case sc.all:
		return true
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if ok, found := sc.ns[ns]; found {
		return ok
	}
	_, err := s.deps.Store.Role(ctx, ns, sc.user.ID)
	if err != nil && !errors.Is(err, pipeline.ErrNotFound) && ctx.Err() == nil {
		s.deps.Logger.Error("checking read access", "user", sc.user.Name, "namespace", ns, "err", err)
		return false // not remembered: the next look may succeed
	}
	sc.ns[ns] = err == nil
	return err == nil
}

// seesAll reports whether the request of ctx reads everything: reading is
// public or its user is an admin.
func (s *Server) seesAll(ctx context.Context) bool {
	if s.opts.PublicRead {
		return true
	}
	sc, _ := ctx.Value(scopeKey{}).(*readScope)
	return sc != nil && sc.user.ID != 0 && sc.all
}

// sees reports whether the request of ctx may read the project with key.
func (s *Server) sees(ctx context.Context, key string) bool {
	return s.seesNS(ctx, namespaceOf(key))
}

// visible keeps the elements of list whose project (by key) ctx sees.
func visible[T any](s *Server, ctx context.Context, list []T, key func(T) string) []T {
	if s.seesAll(ctx) {
		return list
	}
	out := list[:0:0]
	for _, x := range list {
		if s.sees(ctx, key(x)) {
			out = append(out, x)
		}
	}
	return out
}

// readsProject lets h run only when the request may read the namespace
// in its path ({ns}); else it answers as for a project that does not
// exist (findProject's or webFindProject's 404). It runs inside
// needReader or needWriter.
func (s *Server) readsProject(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.seesNS(r.Context(), namespaceOf(r.PathValue("ns")+"/"+r.PathValue("name"))) {
			h(w, r)
			return
		}
		s.fail(w, r, s.noProject(r))
	}
}

// noProject is the error for the project in r's path when it does not
// exist, as the API's findProject and the UI's webFindProject say it.
func (s *Server) noProject(r *http.Request) error {
	key, err := keyOf(r)
	if err != nil {
		if isAPI(r) {
			return err
		}
		return notFound("no project %s/%s", r.PathValue("ns"), r.PathValue("name"))
	}
	if isAPI(r) {
		return fmt.Errorf("no project %s: %w", key, pipeline.ErrNotFound)
	}
	return notFound("no project %s: it is not in the index and was not registered", key)
}

// readsBuild lets h run only when the request may read the project of the
// build {id} in its path; else it answers as findBuild does for a build
// that does not exist. Unknown builds and bad ids are left to h.
func (s *Server) readsBuild(h http.HandlerFunc) http.HandlerFunc {
	return s.readsByID(h, noBuild, func(ctx context.Context, id int64) (string, error) {
		b, err := s.deps.Store.Build(ctx, id)
		return b.Project, err
	})
}

// readsScan is readsBuild for the scan {id} (findScan's 404).
func (s *Server) readsScan(h http.HandlerFunc) http.HandlerFunc {
	return s.readsByID(h, noScan, func(ctx context.Context, id int64) (string, error) {
		sc, err := s.deps.Store.ScanOf(ctx, id)
		return sc.Project, err
	})
}

// readsByID runs h when the thing {id} does not exist or the request may
// read its project, found by project; else it answers none(id), the
// error for an id that does not exist.
func (s *Server) readsByID(h http.HandlerFunc, none func(id int64) error, project func(context.Context, int64) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.PublicRead {
			h(w, r)
			return
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			h(w, r)
			return
		}
		key, err := project(r.Context(), id)
		if err != nil || s.sees(r.Context(), key) {
			h(w, r) // unknown, or failing: h says so as it would
			return
		}
		s.fail(w, r, none(id))
	}
}

// noBuild is the error for a build id that does not exist.
func noBuild(id int64) error { return fmt.Errorf("no build %d: %w", id, pipeline.ErrNotFound) }

// noScan is the error for a scan id that does not exist.
func noScan(id int64) error { return fmt.Errorf("no scan %d: %w", id, pipeline.ErrNotFound) }

// isAPI reports whether r is a request of the JSON API.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
