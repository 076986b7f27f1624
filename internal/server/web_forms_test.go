package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestWebRegister(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	form := func() url.Values {
		return url.Values{"name": {"demo/new"}, "repo_url": {"https://example.com/new.git"}, "tag": {"v1"}, "depends_on": {"examples/base"}}
	}
	// Refused without a user, and without the CSRF token: nothing changes.
	if resp, body := e.post("/register", form(), anon, false); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Sign in") {
		t.Errorf("anonymous register = %d\n%s", resp.StatusCode, body)
	}
	if resp, body := e.post("/register", form(), byCookie, false); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Errorf("register without CSRF = %d\n%s", resp.StatusCode, body)
	}
	if _, err := e.store.Project(context.Background(), "demo/new:v1"); !isNotFound(err) {
		t.Fatalf("a refused form registered the project: %v", err)
	}
	// Accepted: the first build starts and the browser goes to it.
	resp, body := e.post("/register", form(), byCookie, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/p/demo/new:v1/builds/1" {
		t.Fatalf("register = %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	p, err := e.store.Project(context.Background(), "demo/new:v1")
	if err != nil || p.FromIndex() || len(p.DependsOn) != 1 {
		t.Errorf("registered project %+v, %v", p, err)
	}
	if got := e.queue.calls[len(e.queue.calls)-1]; got != "trigger demo/new:v1 registered by alice" {
		t.Errorf("last queue call %q", got)
	}
	// Errors are shown next to their fields, with the values kept.
	bad := url.Values{"name": {"Bad Name!"}, "repo_url": {""}, "depends_on": {"x@sha256:00"}, "email": {"<b>me</b>"}}
	resp, body = e.post("/register", bad, byCookie, true)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad register = %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{`id="e-name"`, `id="e-repo_url"`, `id="e-depends_on"`, `value="Bad Name!"`,
		`value="x@sha256:00"`, `value="&lt;b&gt;me&lt;/b&gt;"`, "The project was not registered"} {
		if !strings.Contains(body, want) {
			t.Errorf("bad register: no %q in\n%s", want, body)
		}
	}
	// A taken name says so.
	if resp, body := e.post("/register", url.Values{"name": {"examples/base"}, "repo_url": {"x"}}, byCookie, true); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "is taken") {
		t.Errorf("taken register = %d\n%s", resp.StatusCode, body)
	}
}

func TestWebBuildNowAndCancel(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	if resp, _ := e.post("/p/examples/base/build", url.Values{}, anon, false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous build now = %d", resp.StatusCode)
	}
	if resp, _ := e.post("/p/examples/base/build", url.Values{}, byCookie, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("build now without CSRF = %d", resp.StatusCode)
	}
	resp, body := e.post("/p/examples/base/build", url.Values{}, byCookie, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/p/examples/base/builds/2" {
		t.Fatalf("build now = %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if got := e.queue.calls[len(e.queue.calls)-1]; got != "trigger examples/base:latest manual by alice" {
		t.Errorf("last queue call %q", got)
	}
	if resp, _ := e.post("/p/demo/slow/builds/2/cancel", url.Values{"next": {"/queue"}}, byCookie, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cancel without CSRF = %d", resp.StatusCode)
	}
	resp, _ = e.post("/p/demo/slow/builds/2/cancel", url.Values{"next": {"/queue"}}, byCookie, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/queue" {
		t.Fatalf("cancel = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if b, _ := e.store.Build(context.Background(), e.queued.ID); b.Status != pipeline.StatusCancelled {
		t.Errorf("cancelled build is %s", b.Status)
	}
	// A finished build is left alone; "next" never leaves the site.
	resp, _ = e.post("/p/demo/slow/builds/2/cancel", url.Values{"next": {"//evil.example/"}}, byCookie, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/p/demo/slow/builds/2" {
		t.Errorf("cancel again = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := e.get("/queue", anon); strings.Contains(body, "manual by bob") {
		t.Errorf("the cancelled build is still in the queue:\n%s", body)
	}
}

func TestWebLogin(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: false})
	// A reader who is not signed in is sent to the login page.
	resp, err := noRedirects(e.http.Client()).Get(e.http.URL + "/failures")
	webMust(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Ffailures" {
		t.Fatalf("anonymous /failures = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The login form hands out a CSRF token bound to a cookie.
	resp, err = e.http.Client().Get(e.http.URL + "/login?next=/failures")
	webMust(t, err)
	resp.Body.Close()
	var csrf *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == csrfCookie {
			csrf = c
		}
	}
	if csrf == nil {
		t.Fatal("the login form set no CSRF cookie")
	}
	login := func(pw, token string) *http.Response {
		form := url.Values{"name": {"alice"}, "password": {pw}, "csrf": {token}, "next": {"/failures"}}
		req, _ := http.NewRequest("POST", e.http.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(csrf)
		resp, err := noRedirects(e.http.Client()).Do(req)
		webMust(t, err)
		resp.Body.Close()
		return resp
	}
	if resp := login(testPassword, "forged"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login with a forged CSRF token = %d", resp.StatusCode)
	}
	if resp := login("wrong", csrf.Value); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a wrong password = %d", resp.StatusCode)
	}
	resp = login(testPassword, csrf.Value)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/failures" {
		t.Fatalf("login = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly {
		t.Fatalf("login session cookie %+v", session)
	}
	e.session, e.csrf = session, sessionCSRF(session.Value)
	if status, body := e.get("/failures", byCookie); status != http.StatusOK || !strings.Contains(body, "Sign out") {
		t.Errorf("signed-in /failures = %d\n%s", status, body)
	}
	// Logging out needs the session's CSRF token, then ends the session.
	if resp, _ := e.post("/logout", url.Values{}, byCookie, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF = %d", resp.StatusCode)
	}
	if resp, _ := e.post("/logout", url.Values{}, byCookie, true); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout = %d", resp.StatusCode)
	}
	if _, body := e.get("/failures", byCookie); strings.Contains(body, "Sign out") || !strings.Contains(body, "<title>Sign in") {
		t.Errorf("the session still works after logout:\n%s", body)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/queue": "/queue", "": "/", "//evil": "/", "https://evil": "/", "/\\evil": "/", "/p/a/b?x=1": "/p/a/b?x=1",
		"/\t/evil.example": "/", "/\n/evil.example": "/", "/\r//evil": "/", "/%09/evil.example": "/", "/%5C/evil": "/", "/%5c%5cevil": "/",
		"\t//evil": "/", "/x\\y": "/", "http:evil": "/", "https:/evil": "/", "///evil": "/", "/%zz": "/",
		"/p/a%2Fb/builds/1": "/p/a%2Fb/builds/1", "/%2F%2Fevil": "/", "/%2fevil": "/"} {
		if got := localPath(in, "/"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
