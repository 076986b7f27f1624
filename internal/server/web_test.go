package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// webEnv is an apiEnv with projects and builds to show: examples/base
// (from the index, delivered), examples/app (depends on base; its newest
// build failed with ANSI colours and a hostile reason in its log) and
// demo/slow (registered, a build running and one queued).
type webEnv struct {
	*apiEnv
	failed, running, queued pipeline.Build
}

func newWebEnv(t *testing.T, opts Options) *webEnv {
	t.Helper()
	e := &webEnv{apiEnv: newAPIEnv(t, opts)}
	ctx := context.Background()
	base := testProject("examples", "base")
	base.Origin = pipeline.Origin{File: "index.d/examples.yaml", Line: 12}
	e.putProject(base)
	app := testProject("examples", "app")
	app.DependsOn = []pipeline.ImageRef{base.Image()}
	app.Origin = pipeline.Origin{File: "index.d/examples.yaml", Line: 30}
	e.putProject(app)
	e.putProject(testProject("demo", "slow"))

	ok := e.finished(base.Key(), pipeline.StatusSucceeded, "")
	e.log(ok.ID, pipeline.StageBuild, "Step 1/2 : FROM scratch\nSuccessfully built 0123\n")
	webMust(t, e.store.RecordImage(ctx, pipeline.DeliveredImage{Image: "127.0.0.1:5000/examples/base:latest", Project: base.Key(),
		Digest: "sha256:" + strings.Repeat("ab", 32), BuildID: ok.ID, Delivered: time.Now()}))

	e.failed = e.finished(app.Key(), pipeline.StatusFailed, "<script>alert('reason')</script> returned a non-zero code: 1")
	e.log(e.failed.ID, pipeline.StageBuild, "Step 1/3 : FROM examples/base\n\x1b[31mred error\x1b[0m and <script>alert('log')</script>\nlast line here\n")

	var err error
	e.running, _, err = e.store.Enqueue(ctx, "demo/slow:latest", "manual by alice", time.Now())
	webMust(t, err)
	e.running, err = e.store.Claim(ctx, time.Now())
	webMust(t, err)
	webMust(t, e.store.PutStage(ctx, pipeline.Stage{BuildID: e.running.ID, Name: pipeline.StageCheckout, Status: pipeline.StatusRunning, Started: time.Now()}))
	e.queued, _, err = e.store.Enqueue(ctx, "demo/slow:latest", "manual by bob", time.Now())
	webMust(t, err)
	return e
}

// finished stores a finished build of key: every stage succeeded up to
// the build stage, which has status; the rest are skipped after a failure.
func (e *webEnv) finished(key string, status pipeline.Status, reason string) pipeline.Build {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now()
	b := pipeline.Build{Project: key, Status: status, Cause: "index", Reason: reason, Commit: strings.Repeat("c", 40),
		Created: now.Add(-3 * time.Minute), Started: now.Add(-3 * time.Minute), Finished: now.Add(-time.Minute)}
	if status == pipeline.StatusFailed {
		b.FailedStage = pipeline.StageBuild
	}
	webMust(e.t, e.store.CreateBuild(ctx, &b))
	st := pipeline.StatusSucceeded
	for _, name := range pipeline.Stages {
		s := pipeline.Stage{BuildID: b.ID, Name: name, Status: st, Started: b.Started, Finished: b.Finished}
		if name == pipeline.StageBuild && status == pipeline.StatusFailed {
			s.Status, s.Error = pipeline.StatusFailed, reason
			st = pipeline.StatusSkipped
		}
		webMust(e.t, e.store.PutStage(ctx, s))
	}
	return b
}

func (e *webEnv) log(id int64, stage pipeline.StageName, text string) {
	e.t.Helper()
	webMust(e.t, e.store.AppendLog(context.Background(), id, stage, []byte(text)))
}

// get fetches a page as by and returns its status and body.
func (e *webEnv) get(path string, by authBy) (int, string) {
	e.t.Helper()
	status, body := e.do("GET", path, "", by)
	return status, string(body)
}

// post sends a form as by (with the session's CSRF token when csrf), not
// following redirects, and returns the response with its body read.
func (e *webEnv) post(path string, form url.Values, by authBy, csrf bool) (*http.Response, string) {
	e.t.Helper()
	if csrf {
		form.Set("csrf", e.csrf)
	}
	req, err := http.NewRequest("POST", e.http.URL+path, strings.NewReader(form.Encode()))
	webMust(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if by == byCookie {
		req.AddCookie(e.session)
	}
	resp, err := noRedirects(e.http.Client()).Do(req)
	webMust(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	webMust(e.t, err)
	return resp, string(body)
}

func noRedirects(c *http.Client) *http.Client {
	c2 := *c
	c2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c2
}

func TestWebPages(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	tests := []struct {
		path string
		by   authBy
		want []string
	}{
		{"/", anon, []string{"<title>Projects · Hoist</title>", "examples/base:latest", "examples/app:latest", "demo/slow:latest",
			"https://example.com/base.git", "s-failed", "sha256:abababababab", ":latest", `title="from index.d/examples.yaml:12"`, "Sign in", `datetime="`}},
		{"/?status=failed", anon, []string{"examples/app:latest"}},
		{"/?q=slow", anon, []string{"demo/slow:latest"}},
		{"/failures", anon, []string{"<title>Failures · Hoist</title>", "examples/app:latest", "build", "/p/examples/app/builds/1",
			"&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt; returned a non-zero code: 1"}},
		{"/queue", byCookie, []string{"<title>Queue · Hoist</title>", "Running", "Queued", "manual by alice", "manual by bob",
			"/p/demo/slow/builds/1/cancel", "/p/demo/slow/builds/2/cancel", `name="csrf" value="`}},
		{"/p/examples/app", anon, []string{"<title>examples/app:latest · Hoist</title>", "Read-only: from", "index.d/examples.yaml:30",
			"examples/base:latest", "Sign in to build", "#1"}},
		{"/p/examples/base", byCookie, []string{"Build now", "127.0.0.1:5000/examples/base:latest", "sha256:abababababab",
			"Needed by", "/p/examples/app", "alice"}},
		{"/p/examples/app/builds/1", anon, []string{"<title>examples/app:latest #1 failed · Hoist</title>", "Failed in", "build",
			`<span class="fg-1">red error</span>`, "last line here", "Last lines of the build log", `id="stage-build" data-stage="build" open`}},
		{"/p/demo/slow/builds/1", byCookie, []string{"running", `hx-trigger="hoist-stage from:body"`, "/p/demo/slow/builds/1/events?from=checkout&amp;at=0&amp;line=0", "Cancel build"}},
		{"/p/demo/slow/builds/1/live", anon, []string{`id="build-live"`, `hx-get="/p/demo/slow/builds/1/live"`}},
		{"/p/examples/app/builds/1/live", anon, []string{`id="build-live"`, "Failed in"}},
		{"/register", anon, []string{"<title>Register a project · Hoist</title>", "Sign in to register"}},
		{"/register", byCookie, []string{`name="repo_url"`, `name="depends_on"`, `name="csrf" value="`}},
		{"/login?next=/queue", anon, []string{"<title>Sign in · Hoist</title>", `name="next" value="/queue"`, `name="password"`}},
		{"/static/hoist.css", anon, []string{"--fail"}},
		{"/static/htmx.min.js", anon, []string{"htmx"}},
	}
	for _, tt := range tests {
		status, body := e.get(tt.path, tt.by)
		if status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200\n%s", tt.path, status, body)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: no %q in\n%s", tt.path, w, body)
			}
		}
		for _, v := range csrfValues(body) {
			if raw, ok := unmaskCSRF(v); tt.by == byCookie && (!ok || raw != e.csrf) {
				t.Errorf("GET %s: csrf field %q does not unmask to the session's token", tt.path, v)
			}
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("GET %s: a hostile string is not escaped:\n%s", tt.path, body)
		}
	}
	// Filters leave the others out.
	if _, body := e.get("/?status=failed", anon); strings.Contains(body, "demo/slow:latest") {
		t.Errorf("status=failed shows demo/slow")
	}
	if _, body := e.get("/p/examples/base", anon); strings.Contains(body, "Build now") {
		t.Errorf("an anonymous reader sees Build now")
	}
}

func TestWebNotFound(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	for _, path := range []string{"/p/nope/nothing", "/p/examples/app/builds/9", "/p/examples/app/builds/x",
		"/p/Bad!/x", "/p/nope/nothing/builds/1", "/p/examples/app:v2", "/nothing-here", "/p/examples/app/builds/9/events"} {
		status, body := e.get(path, anon)
		if status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404\n%s", path, status, body)
		}
	}
	if _, body := e.get("/p/nope/nothing", anon); !strings.Contains(body, "<title>Not found · Hoist</title>") {
		t.Errorf("404 page:\n%s", body)
	}
}

func webMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// csrfFieldRe matches a page's csrf form fields; their values are masked
// afresh on every page.
var csrfFieldRe = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrfValues returns the values of body's csrf form fields.
func csrfValues(body string) []string {
	var vs []string
	for _, m := range csrfFieldRe.FindAllStringSubmatch(body, -1) {
		vs = append(vs, m[1])
	}
	return vs
}

// unmasked is body with each csrf field's value unmasked, so that two
// pages can be compared.
func unmasked(body string) string {
	return csrfFieldRe.ReplaceAllStringFunc(body, func(m string) string {
		v := csrfFieldRe.FindStringSubmatch(m)[1]
		if raw, ok := unmaskCSRF(v); ok {
			return `name="csrf" value="` + raw + `"`
		}
		return m
	})
}
