package server

import (
	"bytes"
	"context"
	"net/http"
	"sync"
)

// listVersioner is an optional capability of a store: a number that
// changes whenever a project, a build or a delivered image is written, by
// any process (sqlite.Store.ListVersion). With it the server keeps the
// encoded list of every project until it changes, instead of encoding
// the same few hundred kilobytes at every request.
type listVersioner interface {
	ListVersion(ctx context.Context) (int64, error)
}

// bodyCache is one answer's body, with the list version it was made at.
type bodyCache struct {
	mu      sync.Mutex
	ok      bool
	version int64
	body    []byte
}

// get returns the body made at version v, nil when there is none.
func (c *bodyCache) get(v int64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.version == v {
		return c.body
	}
	return nil
}

// put keeps body, made at version v, unless a newer one is kept.
func (c *bodyCache) put(v int64, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok || c.version <= v {
		c.ok, c.version, c.body = true, v, body
	}
}

// apiListProjects serves GET /api/v1/projects (see apiListProjects). The
// whole list, as a request that reads everything gets it (public reading
// or an admin), is kept while the store's list version stays the same.
// The version is read before the list, so a list kept under a version is
// at least as new as it.
func (s *Server) apiListProjects(w http.ResponseWriter, r *http.Request) {
	list := apiListProjects(s.visibleStore(), s.deps.Logger)
	lv, ok := s.deps.Store.(listVersioner)
	if !ok || r.URL.RawQuery != "" || !s.seesAll(r.Context()) {
		list(w, r)
		return
	}
	v, err := lv.ListVersion(r.Context())
	if err != nil {
		list(w, r)
		return
	}
	if body := s.projectsJSON.get(v); body != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return
	}
	rec := &recorder{header: w.Header()}
	list(rec, r)
	if rec.status == http.StatusOK {
		s.projectsJSON.put(v, rec.body.Bytes())
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// recorder keeps a handler's status and body, and writes its headers in
// the real response's.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
