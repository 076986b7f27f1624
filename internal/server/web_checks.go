package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/hoistci/hoist/internal/pipeline"
)

// A build's page shows its results below the stage timeline: the check
// results by group, the artifacts, and the scan of its image. That part
// is a fragment of its own (/p/{ns}/{name}/builds/{n}/results) that the
// page fetches again each time a stage ends. A project's page shows its
// latest scan, what changed since the one before, and its scan history.

// checkGroups are the groups of check results in the order they show,
// with their headings.
var checkGroups = []struct{ name, title string }{
	{pipeline.GroupCheck, "Predefined checks"},
	{pipeline.GroupLint, "Dockerfile lint"},
	{pipeline.GroupTestScript, "Test script"},
	{pipeline.GroupStructureTest, "Structure tests"},
	{pipeline.GroupAutotest, "Autotest"},
}

// checkGroup is one group of a build's check results.
type checkGroup struct {
	Name, Title string
	Results     []pipeline.CheckResult // blocking failures first
	Counts      checkCounts
}

// artifactView is an artifact with its download link.
type artifactView struct {
	pipeline.Artifact
	Type string // the content type it is served with
	URL  string
}

// scannerView is one scanner's result as a page shows it.
type scannerView struct {
	pipeline.ScannerResult
	Counts map[string]int // packages by type
	Raw    string         // the start of an external scanner's output
	RawCut bool           // Raw is not all of it
}

// scanView is a scan as a page shows it.
type scanView struct {
	pipeline.Scan
	Scanners []scannerView
	APIURL   string
	SBOMURL  string // the API path of its SBOM, "" when it has none
	Packages int    // how many packages, every scanner together
}

// rawShown is how much of an external scanner's output a page shows.
const rawShown = 16 << 10

func toScanView(sc pipeline.Scan) *scanView {
	v := &scanView{Scan: sc, APIURL: fmt.Sprintf("%s/scans/%d", apiPrefix, sc.ID)}
	if len(sc.Report.SBOM) > 0 {
		v.SBOMURL = v.APIURL + "/sbom"
	}
	for _, res := range sc.Report.Results {
		sv := scannerView{ScannerResult: res, Counts: packageCounts(res.Packages)}
		raw := res.Raw
		if len(raw) > rawShown {
			raw, sv.RawCut = raw[:rawShown], true
		}
		sv.Raw = string(raw)
		if !utf8.ValidString(sv.Raw) {
			sv.Raw = string([]rune(sv.Raw)) // replaces what is not UTF-8
		}
		v.Packages += len(res.Packages)
		v.Scanners = append(v.Scanners, sv)
	}
	return v
}

// resultsView is the results part of a build's page.
type resultsView struct {
	Build     pipeline.Build
	Groups    []checkGroup
	Counts    checkCounts
	Failing   []pipeline.CheckResult // the blocking failures, in the order they ran
	Artifacts []artifactView
	Scan      *scanView
	Live      bool // the build runs: the page fetches this again as stages end
}

// groupChecks sorts results into their groups: groups with a blocking
// failure first, and in each, blocking failures first, then failures,
// warnings, passes and n/a, each in the order they ran.
func groupChecks(results []pipeline.CheckResult) []checkGroup {
	var groups []checkGroup
	index := map[string]int{}
	for _, g := range checkGroups {
		index[g.name] = len(groups)
		groups = append(groups, checkGroup{Name: g.name, Title: g.title})
	}
	for _, r := range results {
		i, ok := index[r.Group]
		if !ok {
			i = len(groups)
			index[r.Group] = i
			groups = append(groups, checkGroup{Name: r.Group, Title: r.Group})
		}
		groups[i].Results = append(groups[i].Results, r)
	}
	out := groups[:0]
	for _, g := range groups {
		if len(g.Results) == 0 {
			continue
		}
		slices.SortStableFunc(g.Results, func(a, b pipeline.CheckResult) int { return cmp.Compare(checkRank(a), checkRank(b)) })
		g.Counts = countChecks(g.Results)
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(a, b checkGroup) int {
		return cmp.Compare(min(a.Counts.BlockingFailures, 1), min(b.Counts.BlockingFailures, 1)) * -1
	})
	return out
}

// checkRank orders results within a group, the loudest first.
func checkRank(r pipeline.CheckResult) int {
	switch {
	case r.Failed():
		return 0
	case r.Status == pipeline.CheckFail:
		return 1
	case r.Status == pipeline.CheckWarn:
		return 2
	case r.Status == pipeline.CheckPass:
		return 3
	}
	return 4
}

// blockingFailures are the results that stop delivery.
func blockingFailures(results []pipeline.CheckResult) []pipeline.CheckResult {
	var out []pipeline.CheckResult
	for _, r := range results {
		if r.Failed() {
			out = append(out, r)
		}
	}
	return out
}

// webArtifactURL is where the page downloads an artifact of b.
func webArtifactURL(b pipeline.Build, name string) string {
	return buildURL(b) + "/artifacts/" + url.PathEscape(name)
}

// resultsData reads the results part of b's page.
func (s *Server) resultsData(ctx context.Context, b pipeline.Build) (*resultsView, error) {
	checks, err := s.buildChecks(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	v := &resultsView{Build: b, Groups: groupChecks(checks), Counts: countChecks(checks),
		Failing: blockingFailures(checks), Live: !b.Status.Done()}
	list, err := s.buildArtifacts(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		v.Artifacts = append(v.Artifacts, artifactView{Artifact: a, Type: artifactType(a), URL: webArtifactURL(b, a.Name)})
	}
	sc, ok, err := s.scanOfBuild(ctx, b)
	if err != nil {
		return nil, err
	}
	if ok {
		v.Scan = toScanView(sc)
	}
	return v, nil
}

// scanOfBuild finds the scan that ran in build b.
func (s *Server) scanOfBuild(ctx context.Context, b pipeline.Build) (pipeline.Scan, bool, error) {
	sc, err := s.deps.Store.ScanOfBuild(ctx, b.ID)
	if errors.Is(err, pipeline.ErrNotFound) {
		return pipeline.Scan{}, false, nil
	}
	if err != nil {
		return pipeline.Scan{}, false, err
	}
	return sc, true, nil
}

// webBuildResults serves /p/{ns}/{name}/builds/{n}/results: the results
// part of the build's page, which the page fetches again as stages end.
func (s *Server) webBuildResults(w http.ResponseWriter, r *http.Request) {
	_, b, err := s.webFindBuild(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	v, err := s.resultsData(r.Context(), b)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "build", "results", s.newPage(w, r, "", "", &buildData{Build: b, Results: v}))
}

// webBuildArtifact serves /p/{ns}/{name}/builds/{n}/artifacts/{file}: the
// artifact's content, to download.
func (s *Server) webBuildArtifact(w http.ResponseWriter, r *http.Request) {
	_, b, err := s.webFindBuild(r)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	a, err := s.buildArtifact(r.Context(), b, r.PathValue("file"))
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	serveBytes(w, artifactType(a), a.Name, a.Data)
}

// scanRow is one scan in a project's scan history.
type scanRow struct {
	pipeline.Scan
	Summary string          // what changed since the scan before; "" for the first
	Build   *pipeline.Build // the build it ran in, when it is among those listed
}

// projectScanData is the scan part of a project's page.
type projectScanData struct {
	Latest  *scanView
	Diff    *pipeline.ScanDiff // since Prev; nil for a first scan
	Prev    *pipeline.Scan
	History []scanRow
	CanScan bool // the server can re-scan, and the project delivered an image to scan
}

// scanHistory is how many scans a project's page lists.
const scanHistory = 10

// projectScanData reads the scan part of p's page; builds are the ones
// the page lists, to link scans to.
func (s *Server) projectScanData(ctx context.Context, p pipeline.Project, builds []pipeline.Build) (*projectScanData, error) {
	scans, err := s.projectScans(ctx, p.Key(), scanHistory)
	if err != nil {
		return nil, err
	}
	delivered := len(scans) > 0 || slices.ContainsFunc(builds, func(b pipeline.Build) bool { return b.Status == pipeline.StatusSucceeded })
	d := &projectScanData{CanScan: s.deps.Rescanner != nil && delivered}
	if len(scans) == 0 {
		return d, nil
	}
	latest, err := s.deps.Store.ScanOf(ctx, scans[0].ID) // with its SBOM, which lists leave out
	if err != nil {
		return nil, fmt.Errorf("reading scan %d of %s: %w", scans[0].ID, p.Key(), err)
	}
	d.Latest, d.Diff, d.Prev = toScanView(latest), scans[0].Diff, scans[0].Prev
	byID := map[int64]*pipeline.Build{}
	for i := range builds {
		byID[builds[i].ID] = &builds[i]
	}
	for _, sc := range scans {
		row := scanRow{Scan: sc.Scan, Build: byID[sc.BuildID]}
		if sc.Diff != nil {
			row.Summary = sc.Diff.Summary()
		}
		d.History = append(d.History, row)
	}
	return d, nil
}

// webRescan serves POST /p/{ns}/{name}/scan: it re-scans the project's
// delivered image now and shows the project's page at its scan.
func (s *Server) webRescan(w http.ResponseWriter, r *http.Request) {
	p, err := s.webFindProject(r)
	if err == nil {
		_, err = s.rescan(r.Context(), p, userOf(r).Name)
	}
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/p/"+projectPath(p.Key())+"#scan", http.StatusSeeOther)
}
