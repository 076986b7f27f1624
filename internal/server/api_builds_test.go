package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

type triggered struct {
	Build  buildJSON `json:"build"`
	Joined bool      `json:"joined"`
}

func TestAPIBuilds(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	e.putProject(testProject("ns", "web"))
	var tr triggered
	e.json("POST", "/api/v1/projects/ns/web/builds", "", byToken, http.StatusAccepted, &tr)
	if tr.Joined || tr.Build.Number != 1 || tr.Build.Cause != "manual by alice" || tr.Build.Status != pipeline.StatusQueued {
		t.Errorf("trigger = %+v", tr)
	}
	first := tr.Build.ID
	e.json("POST", "/api/v1/projects/ns/web/builds", "", byCookieCSRF, http.StatusAccepted, &tr)
	if !tr.Joined || tr.Build.ID != first {
		t.Errorf("second trigger = %+v, want joined %d", tr, first)
	}
	e.apiErr("POST", "/api/v1/projects/ns/nothing/builds", "", byToken, http.StatusNotFound)

	ctx := context.Background()
	b, err := e.store.Build(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b.Status, b.Started, b.Finished, b.FailedStage, b.Reason = pipeline.StatusFailed, start, start.Add(time.Minute), pipeline.StageBuild, "exit 1"
	if err := e.store.UpdateBuild(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, st := range []pipeline.Stage{
		{BuildID: first, Name: pipeline.StageCheckout, Status: pipeline.StatusSucceeded, Started: start, Finished: start.Add(2 * time.Second)},
		{BuildID: first, Name: pipeline.StageBuild, Status: pipeline.StatusFailed, Started: start.Add(3 * time.Second), Finished: start.Add(time.Minute), Error: "exit 1"},
	} {
		if err := e.store.PutStage(ctx, st); err != nil {
			t.Fatal(err)
		}
	}

	status, body := e.do("GET", "/api/v1/builds/1", "", anon)
	if status != http.StatusOK {
		t.Fatalf("GET build = %d %s", status, body)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "project", "number", "status", "cause", "failed_stage", "reason", "created", "started", "finished", "url", "stages"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("build JSON has no %q: %s", k, body)
		}
	}
	if raw["started"] != "2026-01-02T03:04:05Z" || raw["url"] != "/p/ns/web/builds/1" {
		t.Errorf("started %v url %v", raw["started"], raw["url"])
	}
	if _, ok := raw["digest"]; ok {
		t.Errorf("empty digest not omitted: %s", body)
	}
	var detail struct{ Stages []stageJSON }
	_ = json.Unmarshal(body, &detail)
	if len(detail.Stages) != 2 || detail.Stages[1].Error != "exit 1" || detail.Stages[1].Seconds != 57 ||
		detail.Stages[0].Log != "/api/v1/builds/1/stages/checkout/log" {
		t.Errorf("stages = %+v", detail.Stages)
	}

	var list struct{ Builds []buildJSON }
	e.json("GET", "/api/v1/projects/ns/web/builds", "", anon, http.StatusOK, &list)
	if len(list.Builds) != 1 || list.Builds[0].ID != first {
		t.Errorf("builds = %+v", list)
	}
	e.json("POST", "/api/v1/projects/ns/web/builds", "", byToken, http.StatusAccepted, &tr)
	e.json("GET", "/api/v1/projects/ns/web/builds?limit=1", "", anon, http.StatusOK, &list)
	if len(list.Builds) != 1 || list.Builds[0].Number != 2 {
		t.Errorf("builds?limit=1 = %+v", list)
	}
	e.apiErr("GET", "/api/v1/projects/ns/web/builds?limit=x", "", anon, http.StatusBadRequest)
	e.apiErr("GET", "/api/v1/projects/ns/none/builds", "", anon, http.StatusNotFound)
	e.apiErr("GET", "/api/v1/builds/99", "", anon, http.StatusNotFound)
	e.apiErr("GET", "/api/v1/builds/abc", "", anon, http.StatusNotFound)
}

func TestAPICancel(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	e.putProject(testProject("ns", "web"))
	var tr triggered
	e.json("POST", "/api/v1/projects/ns/web/builds", "", byToken, http.StatusAccepted, &tr)
	var out struct{ Build buildJSON }
	e.json("POST", "/api/v1/builds/1/cancel", "", byToken, http.StatusAccepted, &out)
	if out.Build.Status != pipeline.StatusCancelled || out.Build.Reason != "cancelled by alice" {
		t.Errorf("cancelled = %+v", out.Build)
	}
	eb := e.apiErr("POST", "/api/v1/builds/1/cancel", "", byToken, http.StatusConflict)
	if !strings.Contains(eb.Error.Message, "already finished") {
		t.Errorf("second cancel: %+v", eb.Error)
	}
	e.apiErr("POST", "/api/v1/builds/7/cancel", "", byToken, http.StatusNotFound)
}

func TestAPIPrivateRead(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: false})
	e.putProject(testProject("ns", "web"))
	for _, path := range []string{"/api/v1/projects", "/api/v1/projects/ns/web", "/api/v1/projects/ns/web/builds",
		"/api/v1/builds/1", "/api/v1/builds/1/stages/build/log", "/api/v1/images"} {
		eb := e.apiErr("GET", path, "", anon, http.StatusUnauthorized)
		if eb.Error.Code != "unauthorized" {
			t.Errorf("%s: %+v", path, eb)
		}
		e.apiErr("GET", path, "", byBadToken, http.StatusUnauthorized)
		if status, _ := e.do("GET", path, "", byCookie); status == http.StatusUnauthorized {
			t.Errorf("%s by session: 401", path)
		}
	}
	e.json("GET", "/api/v1/projects", "", byToken, http.StatusOK, nil)
	if status, _ := e.do("GET", "/healthz", "", anon); status != http.StatusOK {
		t.Errorf("healthz = %d", status)
	}
	if status, _ := e.do("GET", "/api/v1/openapi.json", "", anon); status != http.StatusOK {
		t.Errorf("openapi.json = %d", status)
	}
	req := httptest.NewRequest("GET", "/", nil)
	if e.server.mayRead(req) {
		t.Error("mayRead anonymous in private mode")
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if !e.server.mayRead(req) {
		t.Error("mayRead with a token in private mode")
	}
}

func TestAPIMalformedRequests(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	e.putProject(testProject("ns", "web"))
	huge := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	tests := []struct{ name, method, path, body, want, field string }{
		{"syntax", "POST", "/api/v1/projects", `{"name": "x",}`, `malformed JSON at byte offset \d+: invalid character '}'`, ""},
		{"truncated", "POST", "/api/v1/projects", `{"name": "x"`, "ends in the middle", ""},
		{"empty", "POST", "/api/v1/projects", ``, "the body is empty", ""},
		{"not an object", "POST", "/api/v1/projects", `[1,2]`, "must be a JSON object, not array", ""},
		{"unknown field", "POST", "/api/v1/projects", `{"name":"x","repo":"y"}`, `unknown field "repo"`, "repo"},
		{"wrong type", "POST", "/api/v1/projects", `{"name":"x","repo_url":5}`, `field "repo_url" must be a string, not number \(byte offset \d+\)`, "repo_url"},
		{"bad depends_on", "POST", "/api/v1/projects", `{"name":"x","depends_on":{"a":1}}`, "depends_on must be a list", "depends_on"},
		{"trailing", "POST", "/api/v1/projects", `{"name":"x"} {}`, "one JSON object; found more", ""},
		{"deep", "POST", "/api/v1/projects", `{"depends_on":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}",
			"the body is refused at line 1, column 78: lists and mappings nest more than 64 levels deep here, over the limit of 64", ""},
		{"long number", "POST", "/api/v1/projects", `{"name":` + strings.Repeat("9", 100000) + "}",
			"the body is refused at line 1, column 9: a number of 100000 characters, over the limit of 100", ""},
		{"patch syntax", "PATCH", "/api/v1/projects/ns/web", `{"branch"`, "ends in the middle", ""},
		{"patch type", "PATCH", "/api/v1/projects/ns/web", `{"branch":true}`, `"branch" must be a string, not bool`, "branch"},
		{"bad offset", "GET", "/api/v1/builds/1/stages/build/log?offset=-1", "", "offset", "offset"},
	}
	e.json("POST", "/api/v1/projects/ns/web/builds", "", byToken, http.StatusAccepted, nil)
	before := e.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eb := e.apiErr(tt.method, tt.path, tt.body, byToken, http.StatusBadRequest)
			if eb.Error.Code != "bad_request" || !regexp.MustCompile(tt.want).MatchString(eb.Error.Message) || eb.Error.Field != tt.field {
				t.Errorf("error = %+v, want message ~ %q, field %q", eb.Error, tt.want, tt.field)
			}
		})
	}
	eb := e.apiErr("POST", "/api/v1/projects", huge, byToken, http.StatusRequestEntityTooLarge)
	if eb.Error.Code != "too_large" || !strings.Contains(eb.Error.Message, "larger than 1048576 bytes") {
		t.Errorf("huge: %+v", eb.Error)
	}
	if e.snapshot() != before {
		t.Error("a malformed request changed the store")
	}
	eb = e.apiErr("PUT", "/api/v1/nothing", "", anon, http.StatusNotFound)
	if !strings.Contains(eb.Error.Message, "openapi.json") {
		t.Errorf("unknown route: %+v", eb)
	}
}
