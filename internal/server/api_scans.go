package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Scans of images in the API: a project's scans with what changed
// between them, one scan, its SBOM, and a re-scan on request.

// scansShown is how many scans a project's scan list gives by default.
const scansShown = 20

type packageJSON struct {
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Arch     string   `json:"arch,omitempty"`
	Origin   string   `json:"origin,omitempty"`
	Licenses []string `json:"licenses,omitempty"`
	PURL     string   `json:"purl,omitempty"`
	Location string   `json:"location,omitempty"`
}

type updateJSON struct {
	Name      string `json:"name"`
	Installed string `json:"installed"`
	Available string `json:"available"`
}

type findingJSON struct {
	Severity string `json:"severity,omitempty"`
	ID       string `json:"id,omitempty"`
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
}

type scannerJSON struct {
	Scanner       string              `json:"scanner"`
	Status        pipeline.ScanStatus `json:"status"`
	Detail        string              `json:"detail,omitempty"`
	PackageCounts map[string]int      `json:"package_counts,omitempty"` // packages by type
	Packages      []packageJSON       `json:"packages,omitempty"`       // left out of lists
	Updates       []updateJSON        `json:"updates,omitempty"`
	Findings      []findingJSON       `json:"findings,omitempty"`
	Raw           json.RawMessage     `json:"raw,omitempty"` // an external scanner's JSON output; left out of lists
}

type scanJSON struct {
	ID       int64         `json:"id"`
	Project  string        `json:"project"`
	Image    string        `json:"image"`
	Digest   string        `json:"digest,omitempty"`
	BuildID  int64         `json:"build_id,omitempty"` // absent for a re-scan
	Cause    string        `json:"cause,omitempty"`
	Started  *time.Time    `json:"started,omitempty"`
	Finished *time.Time    `json:"finished,omitempty"`
	Scanners []scannerJSON `json:"scanners"`
	URL      string        `json:"url"`            // the API path of the whole scan
	SBOM     string        `json:"sbom,omitempty"` // the API path of its SBOM, when it has one
	Diff     *diffJSON     `json:"diff,omitempty"` // against the project's previous scan
}

type packageChangeJSON struct {
	Type string `json:"type"`
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

type scannerChangeJSON struct {
	Scanner string              `json:"scanner"`
	From    pipeline.ScanStatus `json:"from,omitempty"`
	To      pipeline.ScanStatus `json:"to"`
	Detail  string              `json:"detail,omitempty"`
}

type diffJSON struct {
	Previous int64               `json:"previous"` // the scan compared against
	Summary  string              `json:"summary"`
	Added    []packageJSON       `json:"added"`
	Removed  []packageJSON       `json:"removed"`
	Changed  []packageChangeJSON `json:"changed"`
	Updates  []updateJSON        `json:"updates"`
	Findings []findingJSON       `json:"findings"`
	Resolved []findingJSON       `json:"resolved"`
	Scanners []scannerChangeJSON `json:"scanners"`
}

func toPackagesJSON(ps []pipeline.Package) []packageJSON {
	out := make([]packageJSON, len(ps))
	for i, p := range ps {
		out[i] = packageJSON{Type: p.Type, Name: p.Name, Version: p.Version, Arch: p.Arch, Origin: p.Origin,
			Licenses: p.Licenses, PURL: p.PURL, Location: p.Location}
	}
	return out
}

func toUpdatesJSON(us []pipeline.PackageUpdate) []updateJSON {
	out := make([]updateJSON, len(us))
	for i, u := range us {
		out[i] = updateJSON{Name: u.Name, Installed: u.Installed, Available: u.Available}
	}
	return out
}

func toFindingsJSON(fs []pipeline.Finding) []findingJSON {
	out := make([]findingJSON, len(fs))
	for i, f := range fs {
		out[i] = findingJSON{Severity: f.Severity, ID: f.ID, Message: f.Message, Location: f.Location}
	}
	return out
}

// packageCounts counts ps by type.
func packageCounts(ps []pipeline.Package) map[string]int {
	if len(ps) == 0 {
		return nil
	}
	m := map[string]int{}
	for _, p := range ps {
		m[p.Type]++
	}
	return m
}

// toScanJSON shapes sc; full adds each scanner's packages and raw output.
func toScanJSON(sc pipeline.Scan, full bool) *scanJSON {
	out := &scanJSON{ID: sc.ID, Project: sc.Project, Image: sc.Image, Digest: sc.Digest, BuildID: sc.BuildID,
		Cause: sc.Cause, Started: timeOrNil(sc.Started), Finished: timeOrNil(sc.Finished),
		Scanners: make([]scannerJSON, len(sc.Report.Results)), URL: fmt.Sprintf("%s/scans/%d", apiPrefix, sc.ID)}
	if len(sc.Report.SBOM) > 0 || !full {
		out.SBOM = out.URL + "/sbom" // lists do not know: the SBOM is left out of them
	}
	for i, res := range sc.Report.Results {
		sj := scannerJSON{Scanner: res.Scanner, Status: res.Status, Detail: res.Detail,
			PackageCounts: packageCounts(res.Packages), Updates: toUpdatesJSON(res.Updates), Findings: toFindingsJSON(res.Findings)}
		if full {
			sj.Packages = toPackagesJSON(res.Packages)
			sj.Raw = rawJSON(res.Raw)
		}
		out.Scanners[i] = sj
	}
	return out
}

// rawJSON is raw as JSON: itself when it is JSON, else a JSON string.
func rawJSON(raw []byte) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	if json.Valid(raw) {
		return raw
	}
	b, _ := json.Marshal(string(raw))
	return b
}

func toDiffJSON(prev pipeline.Scan, d pipeline.ScanDiff) *diffJSON {
	out := &diffJSON{Previous: prev.ID, Summary: d.Summary(), Added: toPackagesJSON(d.Added), Removed: toPackagesJSON(d.Removed),
		Changed: make([]packageChangeJSON, len(d.Changed)), Updates: toUpdatesJSON(d.Updates),
		Findings: toFindingsJSON(d.Findings), Resolved: toFindingsJSON(d.Resolved), Scanners: make([]scannerChangeJSON, len(d.Scanners))}
	for i, c := range d.Changed {
		out.Changed[i] = packageChangeJSON{Type: c.Type, Name: c.Name, From: c.From, To: c.To}
	}
	for i, c := range d.Scanners {
		out.Scanners[i] = scannerChangeJSON{Scanner: c.Scanner, From: c.From, To: c.To, Detail: c.Detail}
	}
	return out
}

// scanDiff is a scan with what changed since the project's scan before.
type scanDiff struct {
	pipeline.Scan
	Prev *pipeline.Scan     // the scan before; nil for the project's first
	Diff *pipeline.ScanDiff // since Prev
}

// projectScans reads the project's newest scans, at most limit (0: all),
// each with its diff against the scan before it.
func (s *Server) projectScans(ctx context.Context, key string, limit int) ([]scanDiff, error) {
	n := limit
	if n > 0 {
		n++ // and the one before the oldest
	}
	scans, err := s.deps.Store.Scans(ctx, key, n)
	if err != nil {
		return nil, fmt.Errorf("listing scans of %s: %w", key, err)
	}
	out := make([]scanDiff, 0, len(scans))
	for i, sc := range scans {
		if limit > 0 && i == limit {
			break
		}
		sd := scanDiff{Scan: sc}
		if i+1 < len(scans) {
			d := pipeline.DiffScans(scans[i+1].Report, sc.Report)
			sd.Prev, sd.Diff = &scans[i+1], &d
		}
		out = append(out, sd)
	}
	return out, nil
}

// apiProjectScans serves GET /api/v1/projects/{ns}/{name}/scans: the
// project's scans, newest first, each with what changed since the one
// before; ?limit=N (default 20, 0 for all). Packages are left out: GET
// the scan for them.
func (s *Server) apiProjectScans(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", scansShown)
	var p pipeline.Project
	if err == nil {
		p, err = findProject(r, s.deps.Store)
	}
	var scans []scanDiff
	if err == nil {
		scans, err = s.projectScans(r.Context(), p.Key(), int(limit))
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	out := make([]*scanJSON, len(scans))
	for i, sc := range scans {
		out[i] = toScanJSON(sc.Scan, false)
		if sc.Diff != nil {
			out[i].Diff = toDiffJSON(*sc.Prev, *sc.Diff)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": p.Key(), "scans": out})
}

// findScan returns the scan {id} in r's path.
func (s *Server) findScan(r *http.Request) (pipeline.Scan, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return pipeline.Scan{}, &apiError{Status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("no scan %q: scan ids are positive integers", r.PathValue("id"))}
	}
	sc, err := s.deps.Store.ScanOf(r.Context(), id)
	if isNotFound(err) {
		return pipeline.Scan{}, noScan(id) // as readsScan says it of a scan not to be seen
	}
	if err != nil {
		return pipeline.Scan{}, fmt.Errorf("scan %d: %w", id, err)
	}
	return sc, nil
}

// apiGetScan serves GET /api/v1/scans/{id}: the whole scan, every
// package and raw output included, and its diff against the project's
// scan before it.
func (s *Server) apiGetScan(w http.ResponseWriter, r *http.Request) {
	sc, err := s.findScan(r)
	var out *scanJSON
	if err == nil {
		out = toScanJSON(sc, true)
		out.Diff, err = s.diffBefore(r.Context(), sc)
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// diffBefore is what changed in sc since the project's scan before it;
// nil for its first scan.
func (s *Server) diffBefore(ctx context.Context, sc pipeline.Scan) (*diffJSON, error) {
	scans, err := s.deps.Store.Scans(ctx, sc.Project, 0)
	if err != nil {
		return nil, fmt.Errorf("listing scans of %s: %w", sc.Project, err)
	}
	for i, x := range scans {
		if x.ID == sc.ID && i+1 < len(scans) {
			return toDiffJSON(scans[i+1], pipeline.DiffScans(scans[i+1].Report, sc.Report)), nil
		}
	}
	return nil, nil
}

// apiScanSBOM serves GET /api/v1/scans/{id}/sbom: the scan's CycloneDX
// JSON SBOM.
func (s *Server) apiScanSBOM(w http.ResponseWriter, r *http.Request) {
	sc, err := s.findScan(r)
	if err == nil && len(sc.Report.SBOM) == 0 {
		err = &apiError{Status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("scan %d of %s has no SBOM", sc.ID, sc.Project)}
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	serveBytes(w, sbomType, fmt.Sprintf("scan-%d.cdx.json", sc.ID), sc.Report.SBOM)
}

// rescan asks the Rescanner to scan p's delivered image now.
func (s *Server) rescan(ctx context.Context, p pipeline.Project, by string) (pipeline.Scan, error) {
	if s.deps.Rescanner == nil {
		return pipeline.Scan{}, &apiError{Status: http.StatusNotImplemented, Code: codeNotImplemented,
			Message: "this server cannot re-scan images: it runs without a scanner; use `hoist scan NS/NAME`"}
	}
	sc, err := s.deps.Rescanner.Rescan(ctx, p.Key(), "manual by "+by)
	if errors.Is(err, pipeline.ErrNotFound) {
		return sc, &apiError{Status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("nothing delivered to scan: %s has no delivered image yet; build it first", p.Key())}
	}
	if err != nil {
		return sc, fmt.Errorf("re-scanning %s: %w", p.Key(), err)
	}
	return sc, nil
}

// apiRescan serves POST /api/v1/projects/{ns}/{name}/scan: it re-scans
// the project's delivered image now, and answers 201 with the scan and
// what changed since the scan before.
func (s *Server) apiRescan(w http.ResponseWriter, r *http.Request) {
	p, err := findProject(r, s.deps.Store)
	var sc pipeline.Scan
	if err == nil {
		sc, err = s.rescan(r.Context(), p, userOf(r).Name)
	}
	var out *scanJSON
	if err == nil {
		out = toScanJSON(sc, false)
		out.Diff, err = s.diffBefore(r.Context(), sc)
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	w.Header().Set("Location", out.URL)
	writeJSON(w, http.StatusCreated, map[string]any{"scan": out})
}
