package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"
)

// A project's page is read from the store once per list version (a store
// capability, listVersioner) for the requests that read everything, and
// its parts that no user changes (the builds, the scan, the side column)
// are rendered at most once a second, the precision of their relative
// times. A request then reads only the version, and renders the layout
// and the user's buttons around those parts.

// projectPage is a page of a project's builds as read at one version.
type projectPage struct {
	data projectData // not changed once made

	mu    sync.Mutex
	sec   int64 // the Unix second frags were rendered in
	frags *projectFrags
	anon  anonPage // the whole page as an anonymous reader gets it
}

// anonPage is a page as an anonymous reader gets it at a path (which
// "Sign in" links lead back to), rendered in a second, and compressed.
type anonPage struct {
	sec      int64
	path     string
	body, gz []byte
}

// write answers r with pp, rendered in now's second. An anonymous reader
// gets the page rendered and compressed for the previous one in that
// second; a signed-in user's has their name and buttons.
func (pp *projectPage) write(s *Server, w http.ResponseWriter, r *http.Request, now time.Time) error {
	frags, err := pp.fragments(now)
	if err != nil {
		return err
	}
	d := pp.data
	d.Frags = frags
	p := s.newPage(w, r, d.Project.Key(), "projects", d)
	if p.User != "" || p.CSRF != "" || p.may != nil {
		s.render(w, r, http.StatusOK, "project", "layout", p)
		return nil
	}
	a, err := pp.anonymous(p, now)
	if err != nil {
		return err
	}
	pageHeaders(w)
	writeBodyGzip(w, r, http.StatusOK, a.body, a.gz)
	return nil
}

// anonymous returns the anonymous page p rendered in now's second.
func (pp *projectPage) anonymous(p *page, now time.Time) (anonPage, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if a := pp.anon; a.body != nil && a.sec == now.Unix() && a.path == p.Path {
		return a, nil
	}
	buf, err := renderPage("project", "layout", p)
	if err != nil {
		return anonPage{}, fmt.Errorf("rendering the page of %s: %w", pp.data.Project.Key(), err)
	}
	a := anonPage{sec: now.Unix(), path: p.Path, body: bytes.Clone(buf.Bytes())}
	putBuffer(buf)
	if len(a.body) >= minGzip {
		a.gz = gzipPage(a.body)
	}
	pp.anon = a
	return a, nil
}

// projectFrags are the parts of a project's page that no user changes,
// rendered.
type projectFrags struct {
	Builds, Scan, Aside template.HTML
}

// fragments returns pp's parts rendered in now's second, rendering them
// when they were rendered in another.
func (pp *projectPage) fragments(now time.Time) (*projectFrags, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.frags != nil && pp.sec == now.Unix() {
		return pp.frags, nil
	}
	t := pages()["project"]
	p := &page{Data: pp.data}
	var f projectFrags
	for name, out := range map[string]*template.HTML{"project-builds": &f.Builds, "project-scan-body": &f.Scan, "project-aside": &f.Aside} {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, p); err != nil {
			return nil, fmt.Errorf("rendering %s of %s: %w", name, pp.data.Project.Key(), err)
		}
		*out = template.HTML(buf.String())
	}
	pp.frags, pp.sec = &f, now.Unix()
	return pp.frags, nil
}

// projectPageKey names a page of a project's builds, and whether the
// server could re-scan (Scan now) when it was read.
type projectPageKey struct {
	key    string
	before int
	rescan bool
}

// projectPagesKept bounds how many pages are kept at one version: when
// more are asked for, the kept ones are dropped.
const projectPagesKept = 512

// projectPages holds the project pages read at one list version.
type projectPages struct {
	mu      sync.Mutex
	version int64
	pages   map[projectPageKey]*projectPage
}

// get returns the page k read at version v, nil when there is none.
func (c *projectPages) get(v int64, k projectPageKey) *projectPage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pages == nil || c.version != v {
		return nil
	}
	return c.pages[k]
}

// put keeps pp, read at version v, unless pages of a newer version are
// kept.
func (c *projectPages) put(v int64, k projectPageKey, pp *projectPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.pages != nil && v < c.version:
		return
	case c.pages == nil || v > c.version || len(c.pages) >= projectPagesKept:
		c.version, c.pages = v, make(map[projectPageKey]*projectPage)
	}
	c.pages[k] = pp
}

// projectPage returns the page of r's project below build number before
// (0: the newest builds): the one kept at the store's list version, when
// r reads everything, else read now. The version is read before the page,
// so a page kept under it is at least as new as it.
func (s *Server) projectPage(r *http.Request, before int) (*projectPage, error) {
	lv, ok := s.deps.Store.(listVersioner)
	if !ok || !s.seesAll(r.Context()) {
		return s.readProjectPage(r, before)
	}
	key, err := keyOf(r)
	if err != nil {
		return s.readProjectPage(r, before) // its 404
	}
	v, err := lv.ListVersion(r.Context())
	if err != nil {
		return s.readProjectPage(r, before)
	}
	k := projectPageKey{key: key, before: before, rescan: s.deps.Rescanner != nil}
	if pp := s.projectPages.get(v, k); pp != nil {
		return pp, nil
	}
	pp, err := s.readProjectPage(r, before)
	if err != nil {
		return nil, err
	}
	s.projectPages.put(v, k, pp)
	return pp, nil
}

// readProjectPage reads the page of r's project below build number
// before from the store.
func (s *Server) readProjectPage(r *http.Request, before int) (*projectPage, error) {
	p, err := s.webFindProject(r)
	if err != nil {
		return nil, err
	}
	d, err := s.projectData(r.Context(), p, before)
	if err != nil {
		return nil, err
	}
	return &projectPage{data: d}, nil
}
