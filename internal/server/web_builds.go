package server

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The parts of a stage's log a build page shows: the end of each log, and
// the last lines of the failing stage at the top.
const (
	logTailBytes  = 256 << 10
	failTailLines = 25
)

// buildData is a build's page.
type buildData struct {
	Project  pipeline.Project
	Build    pipeline.Build
	Stages   []stageView
	Failed   *stageView             // the stage the build failed in, if it did
	FailTail template.HTML          // the last lines of that stage's log
	From     string                 // the first stage whose log is still to come (live builds)
	FromAt   int64                  // where in that stage's log the page's lines end
	FromLine int                    // the number of the last line the page shows of it
	Failing  []pipeline.CheckResult // the blocking check failures, shown with the failure
	Results  *resultsView           // checks, artifacts and scan (the whole page only)
	Pull     string                 // "docker pull REPO@DIGEST" of a delivered build
	Wait     string                 // why a queued build has not started
}

// pullCommand is the command that pulls what build b delivered, by
// digest: exactly the tested image; "" when it delivered nothing.
func pullCommand(b pipeline.Build) string {
	if b.Status != pipeline.StatusSucceeded || b.Image == "" || b.Digest == "" {
		return ""
	}
	repo := b.Image
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	return "docker pull " + repo + "@" + b.Digest
}

// stageView is a stage with the end of its log, rendered.
type stageView struct {
	pipeline.Stage
	Log    template.HTML // its lines (see web_logview.go)
	Cut    bool          // the log's beginning is not shown
	Start  int64         // the log offset of the first line shown
	First  int           // the number of the first line shown
	Open   bool          // its section starts open
	RawURL string
}

// webFindBuild returns the project and its build {n} named in the path.
func (s *Server) webFindBuild(r *http.Request) (pipeline.Project, pipeline.Build, error) {
	p, err := s.webFindProject(r)
	if err != nil {
		return p, pipeline.Build{}, err
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n <= 0 {
		return p, pipeline.Build{}, notFound("no build %q of %s: builds are numbered 1, 2, …", r.PathValue("n"), p.Key())
	}
	b, err := s.deps.Store.BuildNumber(r.Context(), p.Key(), n)
	if isNotFound(err) {
		return p, pipeline.Build{}, notFound("no build #%d of %s", n, p.Key())
	}
	if err != nil {
		return p, pipeline.Build{}, fmt.Errorf("reading build #%d of %s: %w", n, p.Key(), err)
	}
	return p, b, nil
}

// buildData reads what a build's page shows; withLogs adds the end of each
// finished stage's log.
func (s *Server) buildData(ctx context.Context, p pipeline.Project, b pipeline.Build, withLogs bool) (*buildData, error) {
	stages, err := s.deps.Store.Stages(ctx, b.ID)
	if err != nil {
		return nil, fmt.Errorf("reading stages of build %d: %w", b.ID, err)
	}
	byName := map[pipeline.StageName]pipeline.Stage{}
	for _, st := range stages {
		byName[st.Name] = st
	}
	d := &buildData{Project: p, Build: b, Pull: pullCommand(b)}
	for _, name := range pipeline.Stages {
		st, ok := byName[name]
		if !ok {
			st = pipeline.Stage{BuildID: b.ID, Name: name, Status: pipeline.StatusQueued}
			if b.Status.Done() {
				st.Status = pipeline.StatusSkipped // never recorded: the build ended first
			}
		}
		v := stageView{Stage: st, RawURL: fmt.Sprintf("%s/builds/%d/stages/%s/log", apiPrefix, b.ID, name)}
		if d.From == "" && !b.Status.Done() && !st.Status.Done() {
			d.From = string(name)
		}
		d.Stages = append(d.Stages, v)
	}
	if d.From == "" && !b.Status.Done() {
		// Every stage ended, but the runner has not recorded the build's
		// end yet (it first removes what the build left): the stream only
		// waits for that.
		d.From = streamEnd
	}
	for i := range d.Stages {
		v := &d.Stages[i]
		failed := v.Status == pipeline.StatusFailed || (v.Name == b.FailedStage && b.Status == pipeline.StatusFailed)
		if failed && d.Failed == nil {
			d.Failed = v
			v.Open = true
		}
		if v.Status == pipeline.StatusCancelled {
			v.Open = true
		}
		live := !v.Status.Done() && !b.Status.Done()
		if (!withLogs && !failed) || (live && string(v.Name) != d.From) {
			continue // not shown, or its log is still to come over the event stream
		}
		part, err := s.readTail(ctx, b.ID, v.Name, logTailBytes, !live)
		if err != nil {
			return nil, err
		}
		v.Log, v.Cut, v.Start, v.First = template.HTML(part.HTML), part.Start > 0, part.Start, part.First
		if live {
			d.FromAt, d.FromLine = part.End, part.Lines
		}
		if failed && d.Failed == v {
			d.FailTail = template.HTML(renderANSI(lastLines(string(part.Raw), failTailLines)))
		}
	}
	if b.Status == pipeline.StatusQueued {
		active, err := s.visibleStore().Active(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the queue: %w", err)
		}
		waits, err := s.waitReasons(ctx, active)
		if err != nil {
			return nil, err
		}
		d.Wait = waits[b.ID]
	}
	if b.Status == pipeline.StatusSucceeded {
		d.Stages[len(d.Stages)-1].Open = true // the delivery: where the image went
	}
	if withLogs {
		if d.Results, err = s.resultsData(ctx, b); err != nil {
			return nil, err
		}
		d.Failing = d.Results.Failing
	} else if b.Status == pipeline.StatusFailed {
		checks, err := s.buildChecks(ctx, b.ID)
		if err != nil {
			return nil, err
		}
		d.Failing = blockingFailures(checks)
	}
	return d, nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// webBuild serves /p/{ns}/{name}/builds/{n}: the build's stages and logs.
func (s *Server) webBuild(w http.ResponseWriter, r *http.Request) {
	p, b, err := s.webFindBuild(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	d, err := s.buildData(r.Context(), p, b, true)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	title := fmt.Sprintf("%s #%d %s", p.Key(), b.Number, b.Status)
	s.render(w, r, http.StatusOK, "build", "layout", s.newPage(w, r, title, "projects", d))
}

// webBuildLive serves the part of a build's page that htmx polls while the
// build runs: its status, the error summary and the stage timeline. Once
// the build is done the fragment stops asking to be polled.
func (s *Server) webBuildLive(w http.ResponseWriter, r *http.Request) {
	p, b, err := s.webFindBuild(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	d, err := s.buildData(r.Context(), p, b, false)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "build", "live", s.newPage(w, r, "", "", d))
}

// webCancel serves POST /p/{ns}/{name}/builds/{n}/cancel: it stops a queued
// or running build, then goes back to the form's "next" page (the build's
// page by default). A build that already ended is left as it is.
func (s *Server) webCancel(w http.ResponseWriter, r *http.Request) {
	_, b, err := s.webFindBuild(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	if err := s.deps.Queue.Cancel(r.Context(), b.ID, userOf(r).Name); err != nil && !errors.Is(err, pipeline.ErrFinished) {
		s.webFail(w, r, fmt.Errorf("cancelling build #%d of %s: %w", b.Number, b.Project, err))
		return
	}
	http.Redirect(w, r, localPath(r.PostFormValue("next"), buildURL(b)), http.StatusSeeOther)
}
