package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// projectRow is one project in a list, with its newest build and delivery.
type projectRow struct {
	Project   pipeline.Project
	Last      *pipeline.Build          // nil: never built
	Delivered *pipeline.DeliveredImage // nil: nothing delivered yet
}

// Key is the project's key, "ns/name:tag".
func (p projectRow) Key() string { return p.Project.Key() }

// Status is the status of the newest build, "never" when there is none.
func (p projectRow) Status() string {
	if p.Last == nil {
		return "never"
	}
	return string(p.Last.Status)
}

// projectsData is the projects page.
type projectsData struct {
	Rows     []projectRow
	Total    int
	Q        string // the name search
	Status   string // the status filter, "" for all
	Statuses []string
	Counts   map[string]int // projects per status, before filtering
	// IndexErrors are the errors of the newest index reconcile, when it
	// had any (the index was not applied): a banner shows them.
	IndexErrors []string
}

// statusFilters are the choices of the projects page's status filter.
var statusFilters = []string{"failed", "running", "queued", "succeeded", "cancelled", "skipped", "never"}

// webProjects serves /: every project with its last build and delivered
// image, filtered by ?status= and searched by ?q=.
func (s *Server) webProjects(w http.ResponseWriter, r *http.Request) {
	rows, err := s.projectRows(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	d := projectsData{Total: len(rows), Q: strings.TrimSpace(r.FormValue("q")), Status: r.FormValue("status"),
		Statuses: statusFilters, Counts: map[string]int{}}
	q := strings.ToLower(d.Q)
	for _, row := range rows {
		d.Counts[row.Status()]++
		if d.Status != "" && row.Status() != d.Status {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(row.Key()), q) && !strings.Contains(strings.ToLower(pipeline.RedactURL(row.Project.GitURL)), q) {
			continue
		}
		d.Rows = append(d.Rows, row)
	}
	if rs, err := reconcilesOf(r.Context(), s.visibleStore(), 1); err == nil && len(rs) > 0 {
		d.IndexErrors = rs[0].Errors
	}
	s.render(w, r, http.StatusOK, "projects", "layout", s.newPage(w, r, "Projects", "projects", d))
}

// projectRows lists every project with its newest build and delivery.
func (s *Server) projectRows(r *http.Request) ([]projectRow, error) {
	ctx := r.Context()
	ps, err := s.visibleStore().Projects(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing projects: %w", err)
	}
	last, err := s.visibleStore().LastBuilds(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing last builds: %w", err)
	}
	images, err := s.visibleStore().Images(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	byProject := imagesByProject(images)
	rows := make([]projectRow, len(ps))
	for i, p := range ps {
		rows[i] = projectRow{Project: p, Delivered: deliveredImage(p, byProject[p.Key()])}
		if b, ok := last[p.Key()]; ok {
			rows[i].Last = &b
		}
	}
	return rows, nil
}

// deliveredImage picks from images, newest first, the project's newest
// delivery of its own tag, else its newest delivery of any.
func deliveredImage(p pipeline.Project, images []pipeline.DeliveredImage) *pipeline.DeliveredImage {
	var first *pipeline.DeliveredImage
	key, ref := p.Key(), p.Image().String()
	for i, img := range images {
		if img.Project != key {
			continue
		}
		if strings.HasSuffix(img.Image, "/"+ref) || img.Image == ref {
			return &images[i]
		}
		if first == nil {
			first = &images[i]
		}
	}
	return first
}

// projectData is a project's page.
type projectData struct {
	Project  pipeline.Project
	Builds   []pipeline.Build // a page of them, newest first
	Before   int              // the page starts below this build number; 0: at the newest
	Older    int              // the next page starts below this number; 0: no older builds
	Images   []pipeline.DeliveredImage
	Parents  []projectLink
	Children []projectLink
	Registry string
	Rebuilds []pipeline.PlanStep // if this changes, these rebuild
	PlanNote string
	Scan     *projectScanData // its latest scan and scan history
	// Trust says where its scripts run: "" sandboxed, else why they run
	// on the host ("an admin trusts it", "the server trusts its index").
	Trust string
	// Frags are the parts of the page that no user changes, rendered
	// from the fields above (projectPage.fragments).
	Frags *projectFrags
}

// projectLink is a project another one depends on, or that depends on it.
type projectLink struct {
	Key   string
	Known bool            // Hoist builds it (else it is an image from elsewhere)
	Last  *pipeline.Build // its newest build
}

// buildsShown is how many builds a page of a project's builds lists.
const buildsShown = 25

// showProject answers with pp, a page of a project's builds, newest
// first (?before=N: below build number N), its delivered tags, and its
// parents and children; or with err. What a page reads does not grow with
// the project's history: a range of its builds, and one build per
// relative. webProjectOrTags serves it at /p/{ns}/{name}.
func (s *Server) showProject(w http.ResponseWriter, r *http.Request, pp *projectPage, err error) {
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	if err := pp.write(s, w, r, time.Now()); err != nil {
		s.webFail(w, r, err)
	}
}

// beforeOf is r's ?before=N, 0 when it has none.
func beforeOf(r *http.Request) int {
	if n, err := strconv.Atoi(r.FormValue("before")); err == nil && n > 0 {
		return n
	}
	return 0
}

// projectData reads what a page of p's builds shows.
func (s *Server) projectData(ctx context.Context, p pipeline.Project, before int) (projectData, error) {
	d := projectData{Project: p, Registry: s.opts.RegistryHost, Trust: s.trust(p), Before: before}
	var next string
	var err error
	if d.Builds, next, err = buildsPage(ctx, s.deps.Store, p.Key(), d.Before, buildsShown); err != nil {
		return d, err
	}
	d.Older, _ = strconv.Atoi(next)
	images, err := s.deps.Store.Images(ctx)
	if err != nil {
		return d, fmt.Errorf("listing images: %w", err)
	}
	for _, img := range images {
		if img.Project == p.Key() {
			d.Images = append(d.Images, img)
		}
	}
	projects, err := s.visibleStore().Projects(ctx)
	if err != nil {
		return d, fmt.Errorf("listing projects: %w", err)
	}
	if d.Parents, d.Children, err = s.family(ctx, p, projects); err != nil {
		return d, err
	}
	if d.Rebuilds, d.PlanNote, err = s.rebuildPlan(ctx, p.Key(), projects); err != nil {
		return d, err
	}
	if d.Scan, err = s.projectScanData(ctx, p, d.Builds); err != nil {
		return d, err
	}
	return d, nil
}

// family returns the projects p depends on and the ones that depend on it,
// among projects, each with its newest build.
func (s *Server) family(ctx context.Context, p pipeline.Project, projects []pipeline.Project) (parents, children []projectLink, err error) {
	known := make(map[string]bool, len(projects))
	for _, q := range projects {
		known[q.Key()] = true
	}
	link := func(key string) (projectLink, error) {
		l := projectLink{Key: key, Known: known[key]}
		if !l.Known {
			return l, nil
		}
		last, err := s.deps.Store.BuildsBefore(ctx, key, 0, 1)
		if err != nil {
			return l, fmt.Errorf("reading the newest build of %s: %w", key, err)
		}
		if len(last) > 0 {
			l.Last = &last[0]
		}
		return l, nil
	}
	for _, dep := range p.DependsOn {
		l, err := link(dep.String())
		if err != nil {
			return nil, nil, err
		}
		parents = append(parents, l)
	}
	for _, q := range projects {
		if slices.Contains(q.DependsOn, p.Image()) {
			l, err := link(q.Key())
			if err != nil {
				return nil, nil, err
			}
			children = append(children, l)
		}
	}
	return parents, children, nil
}

// webFindProject returns the project named by the path's {ns} and {name}.
func (s *Server) webFindProject(r *http.Request) (pipeline.Project, error) {
	key, err := keyOf(r)
	if err != nil {
		return pipeline.Project{}, notFound("no project %s/%s", r.PathValue("ns"), r.PathValue("name"))
	}
	p, err := s.deps.Store.Project(r.Context(), key)
	if isNotFound(err) {
		return pipeline.Project{}, notFound("no project %s: it is not in the index and was not registered", key)
	}
	if err != nil {
		return pipeline.Project{}, fmt.Errorf("reading project %s: %w", key, err)
	}
	return p, nil
}

// webBuildNow serves POST /p/{ns}/{name}/build: it queues a build (or joins
// the one already queued) and shows it.
func (s *Server) webBuildNow(w http.ResponseWriter, r *http.Request) {
	p, err := s.webFindProject(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	b, _, err := trigger(r.Context(), s.deps.Queue, p.Key(), "manual by "+userOf(r).Name, r.PostFormValue("force"))
	if err != nil {
		s.webFail(w, r, fmt.Errorf("starting a build of %s: %w", p.Key(), err))
		return
	}
	http.Redirect(w, r, buildURL(b), http.StatusSeeOther)
}

// trust says why p's scripts run on the host, "" when they run sandboxed.
func (s *Server) trust(p pipeline.Project) string {
	switch {
	case p.Trusted:
		return "an admin trusts this project"
	case s.opts.TrustIndex && p.FromIndex():
		return "the server trusts its index (--trust-index)"
	}
	return ""
}
