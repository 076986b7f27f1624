package server

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"strings"
)

// apiPrefix is where the JSON API lives.
const apiPrefix = "/api/v1"

// apiRoute is one route of the JSON API: a ServeMux pattern without the
// prefix, and its handler with its access check applied.
type apiRoute struct {
	pattern string // "GET /projects/{ns}/{name}"
	handler http.HandlerFunc
}

// apiRoutes lists every route of the JSON API; openapi.json describes
// exactly these (a test holds them together).
func (s *Server) apiRoutes() []apiRoute {
	st, q, log := s.deps.Store, s.deps.Queue, s.deps.Logger
	read, write := s.needReader, s.needWriter
	own, ownBuild := s.maintains, s.maintainsBuild
	// Reads of one project, build or scan also check that its namespace
	// may be read (readers.go); lists leave out what may not.
	readP := func(h http.HandlerFunc) http.HandlerFunc { return read(s.readsProject(h)) }
	readB := func(h http.HandlerFunc) http.HandlerFunc { return read(s.readsBuild(h)) }
	readS := func(h http.HandlerFunc) http.HandlerFunc { return read(s.readsScan(h)) }
	defaultBranch := func(ctx context.Context, url string) (string, error) {
		if s.deps.Branches == nil {
			return "master", nil // cccp's default
		}
		return s.defaultBranch(ctx, url)
	}
	return []apiRoute{
		{"GET /projects", read(s.apiListProjects)},
		{"POST /projects", write(s.apiRegisterProject)},
		{"GET /projects/{ns}/{name}", readP(apiGetProject(st, log))},
		{"PATCH /projects/{ns}/{name}", write(own(apiPatchProject(st, s.checkRepo, defaultBranch, log)))},
		{"DELETE /projects/{ns}/{name}", write(own(apiDeleteProject(st, log)))},
		{"GET /projects/{ns}/{name}/builds", readP(apiListBuilds(st, log))},
		{"POST /projects/{ns}/{name}/builds", write(own(apiTriggerBuild(q, log)))},
		{"GET /builds/{id}", readB(s.apiGetBuild)},
		{"GET /builds/{id}/checks", readB(s.apiBuildChecks)},
		{"GET /builds/{id}/artifacts", readB(s.apiBuildArtifacts)},
		{"GET /builds/{id}/artifacts/{name}", readB(s.apiBuildArtifact)},
		{"GET /projects/{ns}/{name}/scans", readP(s.apiProjectScans)},
		{"POST /projects/{ns}/{name}/scan", write(own(s.apiRescan))},
		{"GET /scans/{id}", readS(s.apiGetScan)},
		{"GET /scans/{id}/sbom", readS(s.apiScanSBOM)},
		{"POST /builds/{id}/cancel", write(ownBuild(apiCancelBuild(q, st, log)))},
		{"POST /builds/{id}/rebuild", write(ownBuild(s.apiRebuild))},
		{"GET /builds/{id}/stages/{stage}/log", readB(s.apiStageLog)},
		{"GET /builds/{id}/log", readB(s.apiBuildLog)},
		{"GET /images", read(apiListImages(s.visibleStore(), log))},
		{"GET /index/reconciles", read(apiListReconciles(s.visibleStore(), log))},
		{"GET /openapi.json", serveOpenAPI},
	}
}

// routes registers every route: the API, health and metrics, and the UI.
func (s *Server) routes() {
	for _, rt := range s.apiRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		s.mux.HandleFunc(method+" "+apiPrefix+path, rt.handler)
	}
	for _, rt := range s.hookRoutes() {
		s.mux.HandleFunc(rt.pattern, rt.handler)
	}
	s.mux.HandleFunc("/api/", apiNotFound)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if s.deps.Metrics == nil {
			http.Error(w, "metrics are not enabled", http.StatusNotFound)
			return
		}
		s.deps.Metrics.ServeHTTP(w, r)
	})
	s.webRoutes()
}

// readyz answers 200 when the server can serve (deps.Ready), else 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.deps.Ready != nil {
		if err := s.deps.Ready(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// apiNotFound answers requests under /api/ that no route matches.
func apiNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusNotFound, Code: codeNotFound,
		Message: fmt.Sprintf("no API route %s %s; see %s/openapi.json", r.Method, r.URL.Path, apiPrefix)})
}

//go:embed openapi.json
var openAPI []byte

// serveOpenAPI serves the OpenAPI 3.0 document of the API.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
