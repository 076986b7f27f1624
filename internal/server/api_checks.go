package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The results of a build's test stage in the API: check results and
// artifacts (the JUnit report, the SBOM); scans are in api_scans.go. The
// web pages show the same (web_checks.go).

// Rescanner re-runs the scanners on a project's delivered image without
// rebuilding it, and stores the scan.
type Rescanner interface {
	// Rescan scans the project's (key ns/name:tag) delivered image now,
	// stores the scan with cause and returns it. ErrNotFound when nothing
	// of the project was delivered.
	Rescan(ctx context.Context, project string, cause string) (pipeline.Scan, error)
}

// codeNotImplemented refuses what this server was not set up to do.
const codeNotImplemented = "not_implemented"

type checkJSON struct {
	ID          string               `json:"id"`
	Group       string               `json:"group"`
	Description string               `json:"description,omitempty"`
	Status      pipeline.CheckStatus `json:"status"`
	Detail      string               `json:"detail,omitempty"`
	Blocking    bool                 `json:"blocking"`
	Location    string               `json:"location,omitempty"`
	Seconds     float64              `json:"seconds,omitempty"`
	Output      string               `json:"output,omitempty"`
}

// checkCounts counts a build's results by status.
type checkCounts struct {
	Total            int `json:"total"`
	Pass             int `json:"pass"`
	Fail             int `json:"fail"`
	Warn             int `json:"warn"`
	NA               int `json:"na"`
	BlockingFailures int `json:"blocking_failures"`
}

func countChecks(results []pipeline.CheckResult) checkCounts {
	c := checkCounts{Total: len(results)}
	for _, r := range results {
		switch r.Status {
		case pipeline.CheckPass:
			c.Pass++
		case pipeline.CheckFail:
			c.Fail++
		case pipeline.CheckWarn:
			c.Warn++
		default:
			c.NA++
		}
		if r.Failed() {
			c.BlockingFailures++
		}
	}
	return c
}

func toCheckJSON(r pipeline.CheckResult) checkJSON {
	return checkJSON{ID: r.ID, Group: r.Group, Description: r.Description, Status: r.Status, Detail: r.Detail,
		Blocking: r.Blocking, Location: r.Location, Seconds: r.Duration.Seconds(), Output: r.Output}
}

func toChecksJSON(results []pipeline.CheckResult) []checkJSON {
	out := make([]checkJSON, len(results))
	for i, r := range results {
		out[i] = toCheckJSON(r)
	}
	return out
}

type artifactJSON struct {
	Name        string     `json:"name"`
	ContentType string     `json:"content_type"`
	Created     *time.Time `json:"created,omitempty"`
	URL         string     `json:"url"` // the API path of its content
}

func toArtifactJSON(a pipeline.Artifact) artifactJSON {
	return artifactJSON{Name: a.Name, ContentType: artifactType(a), Created: timeOrNil(a.Created),
		URL: fmt.Sprintf("%s/builds/%d/artifacts/%s", apiPrefix, a.BuildID, url.PathEscape(a.Name))}
}

// artifactType is the content type an artifact is served with: its own,
// else one its name suggests; a JUnit report is application/xml.
func artifactType(a pipeline.Artifact) string {
	ext := path.Ext(a.Name)
	switch {
	case ext == ".xml" && (a.ContentType == "" || a.ContentType == "text/xml" || a.ContentType == "application/junit+xml"):
		return "application/xml"
	case a.ContentType != "":
		return a.ContentType
	case strings.HasSuffix(a.Name, ".cdx.json"):
		return sbomType
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// sbomType is the content type of a CycloneDX JSON SBOM.
const sbomType = "application/vnd.cyclonedx+json"

// apiGetBuild serves GET /api/v1/builds/{id}: the build, its stages and
// its check results.
func (s *Server) apiGetBuild(w http.ResponseWriter, r *http.Request) {
	st := s.deps.Store
	b, err := findBuild(r, st)
	var stages []pipeline.Stage
	if err == nil {
		stages, err = st.Stages(r.Context(), b.ID)
	}
	var checks []pipeline.CheckResult
	if err == nil {
		checks, err = s.buildChecks(r.Context(), b.ID)
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	out := struct {
		*buildJSON
		Stages []stageJSON `json:"stages"`
		Checks []checkJSON `json:"checks"`
		Counts checkCounts `json:"check_counts"`
	}{toBuildJSON(b), make([]stageJSON, len(stages)), toChecksJSON(checks), countChecks(checks)}
	for i, st := range stages {
		out.Stages[i] = toStageJSON(st)
	}
	writeJSON(w, http.StatusOK, out)
}

// buildChecks reads a build's check results.
func (s *Server) buildChecks(ctx context.Context, id int64) ([]pipeline.CheckResult, error) {
	checks, err := s.deps.Store.CheckResults(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading the check results of build %d: %w", id, err)
	}
	return checks, nil
}

// apiBuildChecks serves GET /api/v1/builds/{id}/checks: the build's check
// results in the order they ran, and their counts.
func (s *Server) apiBuildChecks(w http.ResponseWriter, r *http.Request) {
	b, err := findBuild(r, s.deps.Store)
	var checks []pipeline.CheckResult
	if err == nil {
		checks, err = s.buildChecks(r.Context(), b.ID)
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"build_id": b.ID, "checks": toChecksJSON(checks), "counts": countChecks(checks)})
}

// apiBuildArtifacts serves GET /api/v1/builds/{id}/artifacts: the files
// the build produced, by name, without their content.
func (s *Server) apiBuildArtifacts(w http.ResponseWriter, r *http.Request) {
	b, err := findBuild(r, s.deps.Store)
	var list []pipeline.Artifact
	if err == nil {
		list, err = s.buildArtifacts(r.Context(), b.ID)
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	out := make([]artifactJSON, len(list))
	for i, a := range list {
		out[i] = toArtifactJSON(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"build_id": b.ID, "artifacts": out})
}

// buildArtifacts lists a build's artifacts.
func (s *Server) buildArtifacts(ctx context.Context, id int64) ([]pipeline.Artifact, error) {
	list, err := s.deps.Store.Artifacts(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("listing the artifacts of build %d: %w", id, err)
	}
	for i := range list {
		list[i].BuildID = id
	}
	return list, nil
}

// apiBuildArtifact serves GET /api/v1/builds/{id}/artifacts/{name}: the
// artifact's bytes with its content type.
func (s *Server) apiBuildArtifact(w http.ResponseWriter, r *http.Request) {
	b, err := findBuild(r, s.deps.Store)
	var a pipeline.Artifact
	if err == nil {
		a, err = s.buildArtifact(r.Context(), b, r.PathValue("name"))
	}
	if err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	serveBytes(w, artifactType(a), a.Name, a.Data)
}

// buildArtifact reads the artifact name of b.
func (s *Server) buildArtifact(ctx context.Context, b pipeline.Build, name string) (pipeline.Artifact, error) {
	a, err := s.deps.Store.Artifact(ctx, b.ID, name)
	if errors.Is(err, pipeline.ErrNotFound) {
		return a, &apiError{Status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("build %d (#%d of %s) has no artifact %q; GET %s/builds/%d/artifacts lists its artifacts",
				b.ID, b.Number, b.Project, name, apiPrefix, b.ID)}
	}
	if err != nil {
		return a, fmt.Errorf("reading artifact %q of build %d: %w", name, b.ID, err)
	}
	return a, nil
}

// serveBytes answers with data as a file called name of content type ct.
// Artifacts come from what builds ran, so they are never run as a page of
// this site: the browser may not sniff them, and a sandbox keeps any
// script in them (an XML or SVG file can hold one) from running here.
func serveBytes(w http.ResponseWriter, ct, name string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
