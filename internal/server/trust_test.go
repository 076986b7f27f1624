package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestProjectTrustShown: a project's JSON carries "trusted" (the admin's
// mark) and its page says whether its scripts run trusted or sandboxed,
// and why; an edit over the API keeps the mark and cannot set it.
func TestProjectTrustShown(t *testing.T) {
	for _, trustIndex := range []bool{false, true} {
		e := newAPIEnv(t, Options{PublicRead: true, TrustIndex: trustIndex})
		marked, plain, idx := testProject("team", "marked"), testProject("team", "plain"), testProject("idx", "web")
		idx.Origin = pipeline.Origin{File: "index.d/idx.yaml", Line: 2}
		for _, p := range []pipeline.Project{marked, plain, idx} {
			e.putProject(p)
		}
		if err := e.store.SetTrusted(context.Background(), marked.Key(), true); err != nil {
			t.Fatal(err)
		}
		// An admin's edit keeps the mark; "trusted" is not an input.
		e.json("PATCH", "/api/v1/projects/team/marked", `{"branch":"dev"}`, byToken, http.StatusOK, nil)
		e.json("PATCH", "/api/v1/projects/team/plain", `{"trusted":true}`, byToken, http.StatusBadRequest, nil)

		for _, tt := range []struct {
			path    string
			trusted bool   // in the JSON
			page    string // on the page
		}{
			{"team/marked", true, "Scripts run <strong>trusted</strong>, on the server with the engine: an admin trusts this project."},
			{"team/plain", false, "Scripts run <strong>sandboxed</strong>"},
			{"idx/web", false, map[bool]string{false: "Scripts run <strong>sandboxed</strong>",
				true: "Scripts run <strong>trusted</strong>, on the server with the engine: the server trusts its index (--trust-index)."}[trustIndex]},
		} {
			var pj projectJSON
			e.json("GET", "/api/v1/projects/"+tt.path, "", anon, http.StatusOK, &pj)
			if pj.Trusted != tt.trusted {
				t.Errorf("trust-index %v: GET %s: trusted %v, want %v", trustIndex, tt.path, pj.Trusted, tt.trusted)
			}
			status, body := e.do("GET", "/p/"+tt.path, "", anon)
			if status != http.StatusOK || !strings.Contains(string(body), tt.page) {
				t.Errorf("trust-index %v: page %s = %d, want %q in\n%s", trustIndex, tt.path, status, tt.page, body)
			}
		}
		var list struct{ Projects []projectJSON }
		e.json("GET", "/api/v1/projects", "", anon, http.StatusOK, &list)
		for _, pj := range list.Projects {
			if pj.Trusted != (pj.Key == marked.Key()) {
				t.Errorf("GET /api/v1/projects: %s trusted %v", pj.Key, pj.Trusted)
			}
		}
		if got, _ := e.store.Project(context.Background(), plain.Key()); got.Trusted {
			t.Errorf("a PATCH with trusted: true trusted %s", plain.Key())
		}
	}
}
