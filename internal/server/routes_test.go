package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIDescribesEveryRoute holds openapi.json and the API's routes
// together: every route registered under /api/v1 is in the document, and
// every operation in the document is served by that route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	var documented []string
	prefix := map[string]string{} // operation → where it is served: under /api/v1, or at the root (its own servers)
	for path, ops := range doc.Paths {
		_, root := ops["servers"]
		for method := range ops {
			if method != "parameters" && method != "servers" {
				op := strings.ToUpper(method) + " " + path
				documented = append(documented, op)
				prefix[op] = map[bool]string{false: apiPrefix, true: ""}[root]
			}
		}
	}
	s := New(Deps{}, Options{})
	var registered []string
	for _, rt := range s.apiRoutes() {
		registered = append(registered, rt.pattern)
	}
	for _, rt := range s.hookRoutes() {
		registered = append(registered, rt.pattern)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Errorf("openapi.json documents\n  %s\nthe server registers\n  %s", strings.Join(documented, "\n  "), strings.Join(registered, "\n  "))
	}
	// And the mux sends each documented operation to its route.
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		req := httptest.NewRequest(method, prefix[op]+param.ReplaceAllString(path, "x"), nil)
		if _, pattern := s.mux.Handler(req); pattern != method+" "+prefix[op]+path {
			t.Errorf("%s is served by %q", op, pattern)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	ready := error(nil)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hoist_up 1\n")) })
	s := New(Deps{Ready: func(context.Context) error { return ready }, Metrics: metrics}, Options{})
	get := func(s *Server, path string) (int, string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ok\n", "/metrics": "hoist_up 1\n"} {
		if code, body := get(s, path); code != 200 || body != want {
			t.Errorf("%s = %d %q", path, code, body)
		}
	}
	ready = errors.New("database is locked")
	if code, body := get(s, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "database is locked") {
		t.Errorf("readyz when not ready = %d %q", code, body)
	}
	if code, _ := get(New(Deps{}, Options{}), "/metrics"); code != http.StatusNotFound {
		t.Errorf("metrics without a handler = %d", code)
	}
	if code, body := get(s, "/api/v1/openapi.json"); code != 200 || !json.Valid([]byte(body)) {
		t.Errorf("openapi.json = %d", code)
	}
}
