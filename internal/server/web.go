package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// The web UI: server-rendered pages (templates/*.html, html/template) with
// htmx for the parts that update in place, and its own small script and
// stylesheet (static/). Nothing is built with node; everything is embedded.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// webRoutes registers the routes of the web UI on s.mux.
func (s *Server) webRoutes() {
	s.mux.HandleFunc("GET /static/", serveStatic)
	s.mux.HandleFunc("GET /favicon.ico", serveFavicon)
	s.mux.HandleFunc("/", s.webNotFound)
	for _, rt := range s.webPages() {
		s.mux.HandleFunc(rt.pattern, rt.handler)
	}
}

// webPages lists the routes of the web UI's pages and forms. Pages that
// read are behind needReader (anonymous readers are sent to the login
// page when reading is not public), and those of one project also behind
// readsProject (404 for a project the user may not read); every write is
// behind needWriter, which asks for a signed-in user and the form's CSRF
// token.
func (s *Server) webPages() []apiRoute {
	read, write := s.needReader, s.needWriter
	readP := func(h http.HandlerFunc) http.HandlerFunc { return read(s.readsProject(h)) }
	return []apiRoute{
		{"GET /{$}", read(s.webProjects)},
		{"GET /failures", read(s.webFailures)},
		{"GET /events", read(s.webEvents)},
		{"GET /queue", read(s.webQueue)},
		{"GET /index", read(s.webIndex)},
		{"GET /register", s.webRegisterForm},
		{"POST /register", write(s.webRegister)},
		{"GET /login", s.webLoginForm},
		{"POST /login", s.webLogin},
		{"POST /logout", s.webLogout},
		{"GET /p/{ns}/{name}", readP(s.webProjectOrTags)},
		{"POST /p/{ns}/{name}/build", write(s.maintains(s.webBuildNow))},
		{"GET /p/{ns}/{name}/builds/{n}", readP(s.webBuild)},
		{"GET /p/{ns}/{name}/builds/{n}/live", readP(s.webBuildLive)},
		{"GET /p/{ns}/{name}/builds/{n}/events", readP(s.webBuildEvents)},
		{"GET /p/{ns}/{name}/builds/{n}/logs/{stage}", readP(s.webLogBefore)},
		{"POST /p/{ns}/{name}/builds/{n}/cancel", write(s.maintains(s.webCancel))},
		{"POST /p/{ns}/{name}/builds/{n}/rebuild", write(s.maintains(s.webRebuild))},
		{"GET /p/{ns}/{name}/builds/{n}/results", readP(s.webBuildResults)},
		{"GET /p/{ns}/{name}/builds/{n}/artifacts/{file}", readP(s.webBuildArtifact)},
		{"POST /p/{ns}/{name}/scan", write(s.maintains(s.webRescan))},
	}
}

// page is what every template gets: the layout's parts and the page's own
// data in Data.
type page struct {
	Title string // the <title>, before " · Hoist"
	Nav   string // which header link is current: projects, failures, queue, register
	User  string // the signed-in user's name, "" for none
	CSRF  string // the CSRF token for forms, when someone is signed in
	Path  string // the request's path and query, for "sign in and come back"
	Data  any

	may func(key string) bool // whether User may change the project with key
}

// May reports whether the signed-in user may change, build, cancel and
// scan the project with key; the UI shows its buttons only then.
func (p *page) May(key string) bool { return p.may != nil && p.may(key) }

// partials are the templates every page set holds: the layout and the
// fragments several pages share. The other files are one page each.
var partials = []string{"layout", "scan"}

// pages holds one template set per page, each with the partials, parsed
// once.
var pages = sync.OnceValue(func() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(webFuncs).ParseFS(templateFS, "templates/layout.html", "templates/scan.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if slices.Contains(partials, name) {
			continue
		}
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return out
})

// newPage starts the page data for r.
func (s *Server) newPage(w http.ResponseWriter, r *http.Request, title, nav string, data any) *page {
	p := &page{Title: title, Nav: nav, Path: r.URL.RequestURI(), Data: data}
	if u, ok := s.currentUser(r); ok {
		p.User = u.Name
		p.may = s.mayFor(r, u)
		p.CSRF = s.csrfToken(w, r)
	}
	return p
}

// render writes the template tmpl ("layout" for a whole page, or a
// fragment) of the page name with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, tmpl string, p *page) {
	buf, err := renderPage(name, tmpl, p)
	if err != nil {
		s.deps.Logger.Error("web: rendering", "template", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error rendering the page; the server log has the details", http.StatusInternalServerError)
		return
	}
	defer putBuffer(buf)
	pageHeaders(w)
	writeBody(w, r, status, buf.Bytes())
}

// renderPage renders the template tmpl of the page name into a buffer
// from bufferPool.
func renderPage(name, tmpl string, p *page) (*bytes.Buffer, error) {
	t, ok := pages()[name]
	if !ok {
		return nil, fmt.Errorf("no template %s", name)
	}
	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := t.ExecuteTemplate(buf, tmpl, p); err != nil {
		putBuffer(buf)
		return nil, err
	}
	return buf, nil
}

// bufferPool holds the buffers pages are rendered into.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBuffer gives buf back to bufferPool, unless it grew past what a
// page needs.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		bufferPool.Put(buf)
	}
}

// pageHeaders sets the headers of every page but its encoding.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// errorData is the error page's content.
type errorData struct {
	Status  int
	Heading string
	Message string
	Login   bool   // offer to sign in
	Next    string // where signing in leads back to
}

// webError answers a UI request that failed with status and a readable
// message, as a page in the layout. A GET refused for want of a user is
// sent to the login page instead, to come back afterwards.
func (s *Server) webError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusUnauthorized && r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" &&
		!strings.HasSuffix(r.URL.Path, "/events") {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	d := errorData{Status: status, Heading: http.StatusText(status), Message: msg, Login: status == http.StatusUnauthorized,
		Next: backTo(r)}
	switch status {
	case http.StatusNotFound:
		d.Heading = "Not found"
	case http.StatusUnauthorized:
		d.Heading = "Sign in needed"
	case http.StatusForbidden:
		d.Heading = "Refused"
	}
	s.render(w, r, status, "error", "layout", s.newPage(w, r, d.Heading, "", d))
}

// webFail answers with err: its status from the error table (404 for
// ErrNotFound, …), logging it when it is the server's fault.
func (s *Server) webFail(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 {
		s.deps.Logger.Error("web", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.webError(w, r, ae.Status, ae.Message)
}

// notFound is a 404 for what, as webFail shows it.
func notFound(format string, args ...any) error {
	return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: fmt.Sprintf(format, args...)}
}

// localPath returns next when it is a path on this site, else def: a
// login or a form must not send the browser elsewhere. Browsers drop tabs
// and newlines from a URL and read a backslash as a slash ("/\t/x" and
// "/\\x" both go to host x), so next is refused when it holds a control
// character or a backslash (also percent-encoded), names a scheme or a
// host, or starts with "//" (also percent-encoded).
func localPath(next, def string) string {
	if !strings.HasPrefix(next, "/") || unsafeInPath(next) {
		return def
	}
	if dec, err := url.PathUnescape(next); err != nil || unsafeInPath(dec) || strings.HasPrefix(dec, "//") {
		return def
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return def
	}
	if strings.HasPrefix(next, "//") {
		return def
	}
	return next
}

// unsafeInPath reports whether s holds a character a browser may read
// differently from Go: ASCII controls (tab, newline…), DEL or a backslash.
func unsafeInPath(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' })
}

// backTo is the page to return to after signing in: the page itself for
// a GET, else the local page the form was on.
func backTo(r *http.Request) string {
	if r.Method == http.MethodGet {
		return r.URL.RequestURI()
	}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
		return localPath(ref.RequestURI(), "/")
	}
	return "/"
}
