package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestWebNotFoundLayout: a page no route serves is a 404 in the site's
// layout, not Go's plain text.
func TestWebNotFoundLayout(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	for _, path := range []string{"/foo", "/p/x", "/p/nope/nothing", "/p/examples/app/builds/99"} {
		status, body := e.get(path, anon)
		if status != http.StatusNotFound || !strings.Contains(body, "<title>Not found · Hoist</title>") || !strings.Contains(body, `class="brand"`) {
			t.Errorf("GET %s = %d, not a 404 page in the layout:\n%.300s", path, status, body)
		}
	}
	if status, body := e.get("/api/v1/nothing", anon); status != 404 || !strings.Contains(body, `"code"`) {
		t.Errorf("the API's 404 is no longer JSON: %d %s", status, body)
	}
}

// TestWebProjectWithoutTag: /p/NS/NAME opens the project of the image's one
// tag, or lists its tags.
func TestWebProjectWithoutTag(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	one := testProject("solo", "app")
	one.Tag = "v1"
	e.putProject(one)
	resp, _ := e.getNoRedirect(t, "/p/solo/app")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/p/solo/app:v1" {
		t.Errorf("/p/solo/app = %d to %q, want a redirect to its one tag", resp.StatusCode, resp.Header.Get("Location"))
	}
	two := one
	two.Tag = "v2"
	e.putProject(two)
	status, body := e.get("/p/solo/app", anon)
	if status != 200 || !strings.Contains(body, `href="/p/solo/app:v1"`) || !strings.Contains(body, `href="/p/solo/app:v2"`) {
		t.Errorf("/p/solo/app with two tags = %d, does not list them:\n%.400s", status, body)
	}
	if status, body := e.get("/p/examples/app", anon); status != 200 || !strings.Contains(body, "<title>examples/app:latest · Hoist</title>") {
		t.Errorf("/p/examples/app (:latest) = %d", status)
	}
}

// TestWebSucceededLayout: a succeeded build shows its logs before its
// checks, which, all passed, fold into one line.
func TestWebSucceededLayout(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	base, err := e.store.Builds(context.Background(), "examples/base:latest", 1)
	webMust(t, err)
	webMust(t, e.store.PutCheckResults(context.Background(), base[0].ID, []pipeline.CheckResult{
		{ID: "starts", Group: pipeline.GroupCheck, Description: "the container starts", Status: pipeline.CheckPass, Blocking: true},
		{ID: "ports", Group: pipeline.GroupCheck, Description: "ports", Status: pipeline.CheckPass},
	}))
	_, body := e.get("/p/examples/base/builds/1", anon)
	logs, checks := strings.Index(body, `id="logs"`), strings.Index(body, `id="checks"`)
	if logs < 0 || checks < 0 || logs > checks {
		t.Errorf("a succeeded build's logs (at %d) do not come before its checks (at %d)", logs, checks)
	}
	if !strings.Contains(body, `<details class="checks-passed"><summary>All 2 checks passed</summary>`) {
		t.Error("the passed checks are not folded into one line")
	}
	_, failed := e.get("/p/examples/app/builds/1", anon)
	if strings.Index(failed, `id="checks"`) > strings.Index(failed, `id="logs"`) {
		t.Error("a failed build's checks no longer come first")
	}
}

// getNoRedirect fetches path without following a redirect.
func (e *webEnv) getNoRedirect(t *testing.T, path string) (*http.Response, error) {
	resp, err := noRedirects(e.http.Client()).Get(e.http.URL + path)
	webMust(t, err)
	resp.Body.Close()
	return resp, nil
}

// TestWebIndexErrorBanner: when the newest index reconcile had errors, the
// projects page says so at the top, with the first errors.
func TestWebIndexErrorBanner(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	if _, body := e.get("/", anon); strings.Contains(body, "index-errors") {
		t.Error("an error banner with no index errors")
	}
	webMust(t, e.store.RecordReconcile(context.Background(), &pipeline.Reconcile{Revision: "r1",
		Errors: []string{"index.d/a.yaml:3:5: git-url is missing", "index.d/b.yaml:1:1: <bad> entry"}}))
	_, body := e.get("/", anon)
	for _, want := range []string{`class="index-errors banner" role="alert"`, "The index has 2 errors", "index.d/a.yaml:3:5: git-url is missing", "&lt;bad&gt; entry", `href="/index"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the projects page lacks %q", want)
		}
	}
}

// TestWebWaitReasons: a queued build says why it waits: its project is
// building, its parent is, or every worker is busy.
func TestWebWaitReasons(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	ctx := context.Background()
	_, _, err := e.store.Enqueue(ctx, "examples/base:latest", "test", time.Now())
	webMust(t, err)
	app, _, err := e.store.Enqueue(ctx, "examples/app:latest", "test", time.Now())
	webMust(t, err)
	for path, want := range map[string]string{
		buildURL(e.queued):          "Queued: waits for build #1 of this project, which is running.",
		buildURL(app):               "Queued: waits for its parent examples/base:latest: build #2 is queued.",
		"/p/examples/base/builds/2": "Queued: waits for a free worker: 1 build is running.",
	} {
		if _, body := e.get(path, anon); !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", path, want)
		}
	}
	_, body := e.get("/queue", anon)
	mustHave := []string{"waits for build #1 of this project", "waits for its parent examples/base:latest", "waits for a free worker"}
	for _, want := range mustHave {
		if !strings.Contains(body, want) {
			t.Errorf("the queue lacks %q", want)
		}
	}
}
