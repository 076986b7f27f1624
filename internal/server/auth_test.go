package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// writeCases is one request per write route of the API.
var writeCases = map[string]struct{ path, body string }{
	"POST /projects":                    {"/api/v1/projects", `{"name":"ns/new","repo_url":"https://example.com/new.git"}`},
	"PATCH /projects/{ns}/{name}":       {"/api/v1/projects/ns/web", `{"branch":"dev"}`},
	"DELETE /projects/{ns}/{name}":      {"/api/v1/projects/ns/web", ""},
	"POST /projects/{ns}/{name}/builds": {"/api/v1/projects/ns/web/builds", ""},
	"POST /builds/{id}/cancel":          {"/api/v1/builds/1/cancel", ""},
	"POST /builds/{id}/rebuild":         {"/api/v1/builds/2/rebuild", ""},
	"POST /projects/{ns}/{name}/scan":   {"/api/v1/projects/ns/web/scan", ""},
}

// newWriteEnv has the project ns/web with build 1 running, so that every
// write case would change the store.
func newWriteEnv(t *testing.T) *apiEnv {
	e := newAPIEnv(t, Options{PublicRead: true})
	e.putProject(testProject("ns", "web"))
	ctx := context.Background()
	b, _, err := e.store.Enqueue(ctx, "ns/web:latest", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Claim(ctx, time.Now()); err != nil || b.ID != 1 {
		t.Fatal(b, err)
	}
	// Delivered once, so that it can be re-scanned.
	if err := e.store.RecordImage(ctx, pipeline.DeliveredImage{Image: "127.0.0.1:5000/ns/web:latest", Project: "ns/web:latest",
		Digest: "sha256:" + strings.Repeat("0", 64), Delivered: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// A finished build of another project (id 2), to be rebuilt.
	e.putProject(testProject("ns", "old"))
	old := pipeline.Build{Project: "ns/old:latest", Status: pipeline.StatusSucceeded, Commit: strings.Repeat("c", 40),
		Created: time.Now(), Finished: time.Now()}
	if err := e.store.CreateBuild(ctx, &old); err != nil || old.ID != 2 {
		t.Fatal(old, err)
	}
	return e
}

// snapshot is everything a write could change, as JSON.
func (e *apiEnv) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	ps, err := e.store.Projects(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	builds, err := e.store.Builds(ctx, "ns/web:latest", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	active, err := e.store.Active(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	scans, err := e.store.Scans(ctx, "ns/web:latest", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal([]any{ps, builds, active, scans})
	return string(b)
}

func TestAPIWritesNeedAUser(t *testing.T) {
	e := newWriteEnv(t)
	for _, rt := range e.server.apiRoutes() {
		if method, _, _ := strings.Cut(rt.pattern, " "); method != "GET" {
			if _, ok := writeCases[rt.pattern]; !ok {
				t.Errorf("write route %s has no case in writeCases", rt.pattern)
			}
		}
	}
	refusals := []struct {
		by     authBy
		status int
		code   string
	}{
		{anon, http.StatusUnauthorized, "unauthorized"},
		{byBadToken, http.StatusUnauthorized, "unauthorized"},
		{byCookie, http.StatusForbidden, "forbidden"},
	}
	for pattern, c := range writeCases {
		method, _, _ := strings.Cut(pattern, " ")
		for _, ref := range refusals {
			before := e.snapshot()
			eb := e.apiErr(method, c.path, c.body, ref.by, ref.status)
			if eb.Error.Code != ref.code {
				t.Errorf("%s by %d: code %q, want %q", pattern, ref.by, eb.Error.Code, ref.code)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("%s by %d changed the store:\nbefore %s\nafter  %s", pattern, ref.by, before, after)
			}
		}
	}
	if len(e.queue.calls) != 0 {
		t.Errorf("refused writes reached the queue: %v", e.queue.calls)
	}
	for pattern, c := range writeCases {
		method, _, _ := strings.Cut(pattern, " ")
		for _, by := range []authBy{byToken, byCookieCSRF} {
			e := newWriteEnv(t)
			before := e.snapshot()
			if status, body := e.do(method, c.path, c.body, by); status >= 300 {
				t.Errorf("%s by %d = %d %s", pattern, by, status, body)
			}
			if e.snapshot() == before {
				t.Errorf("%s by %d changed nothing", pattern, by)
			}
		}
	}
}

func TestLoginSession(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, Options{SecureCookies: true})
	c := e.login("alice", testPassword)
	e.session, e.csrf = c, sessionCSRF(c.Value)
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || !c.Secure || c.Path != "/" || c.MaxAge != 14*24*3600 {
		t.Errorf("session cookie = %+v", c)
	}
	for _, bad := range [][2]string{{"alice", "wrong"}, {"nobody", testPassword}, {"alice", ""}} {
		rec := httptest.NewRecorder()
		err := e.server.login(rec, httptest.NewRequest("POST", "/login", nil), bad[0], bad[1])
		if !errors.Is(err, ErrBadLogin) || len(rec.Result().Cookies()) != 0 {
			t.Errorf("login(%q, %q) = %v, cookies %v", bad[0], bad[1], err, rec.Result().Cookies())
		}
	}

	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(c)
	if u, ok := e.server.currentUser(req); !ok || u.Name != "alice" {
		t.Errorf("currentUser by cookie = %+v, %v", u, ok)
	}
	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if u, ok := e.server.currentUser(req); !ok || u.Name != "alice" {
		t.Errorf("currentUser by token = %+v, %v", u, ok)
	}

	rec := httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/logout", nil)
	req.AddCookie(c)
	e.server.logout(rec, req)
	if cs := rec.Result().Cookies(); len(cs) != 1 || cs[0].Name != sessionCookie || cs[0].MaxAge >= 0 {
		t.Errorf("logout cookies = %v", cs)
	}
	if _, err := e.store.Credential(context.Background(), pipeline.CredentialSession, HashSecret(c.Value), time.Now()); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("session after logout: %v", err)
	}
	e.apiErr("POST", "/api/v1/projects/ns/web/builds", "", byCookieCSRF, http.StatusUnauthorized)
}

func TestSecretsAreStoredHashed(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, Options{})
	e.session = e.login("alice", testPassword)
	u, err := e.store.UserByName(context.Background(), "alice")
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$2") || !CheckPassword(u.PasswordHash, testPassword) {
		t.Fatalf("user = %+v, %v", u, err)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "hoist.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string]string{"password": testPassword, "token": e.token, "session": e.session.Value} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the %s in clear", filepath.Base(f), name)
			}
		}
		if bytes.Contains(b, []byte(HashSecret(e.token))) {
			found++
		}
	}
	if found == 0 {
		t.Error("the token's hash is in no database file; is the test looking in the right place?")
	}
}

func TestNewSecret(t *testing.T) {
	a, ha, err := NewSecret()
	b, _, _ := NewSecret()
	if err != nil || len(a) != len("hoist_")+43 || a == b || ha != HashSecret(a) || len(ha) != 64 || strings.ContainsAny(a, "+/=") {
		t.Errorf("NewSecret = %q %q %v; then %q", a, ha, err, b)
	}
	// One secret in 64 would begin with "-" without the prefix, and a
	// command line reads that as a flag (CI once failed on exactly that).
	for range 256 {
		s, _, _ := NewSecret()
		if !strings.HasPrefix(s, "hoist_") {
			t.Fatalf("NewSecret = %q, want it to start with hoist_", s)
		}
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("HashPassword accepted an empty password")
	}
}

func TestCSRFTokens(t *testing.T) {
	e := newAPIEnv(t, Options{})
	post := func(path, form string, cookie *http.Cookie) *http.Request {
		r := httptest.NewRequest("POST", path, strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			r.AddCookie(cookie)
		}
		return r
	}
	// Signed in: bound to the session.
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(e.session)
	// Masked afresh on every page (BREACH): two pages never carry the same
	// bytes, and both unmask to the session's token.
	first, second := e.server.csrfToken(httptest.NewRecorder(), req), e.server.csrfToken(httptest.NewRecorder(), req)
	for _, got := range []string{first, second} {
		if raw, ok := unmaskCSRF(got); !ok || raw != e.csrf || e.csrf == "" || strings.Contains(got, e.csrf) {
			t.Errorf("session csrf %q unmasks to %q (%v), want the masked %q", got, raw, ok, e.csrf)
		}
	}
	if first == second {
		t.Errorf("two pages got the same csrf value %q; want it masked afresh", first)
	}
	// Anonymous (the login form): a double-submit cookie.
	rec := httptest.NewRecorder()
	tok := e.server.csrfToken(rec, httptest.NewRequest("GET", "/login", nil))
	cs := rec.Result().Cookies()
	if raw, _ := unmaskCSRF(tok); tok == "" || len(cs) != 1 || cs[0].Name != csrfCookie || cs[0].Value != raw || !cs[0].HttpOnly {
		t.Fatalf("anonymous csrf %q, cookies %v", tok, cs)
	}
	// A short cookie an attacker could plant (and so also send in the
	// form) is no token at all.
	short := &http.Cookie{Name: csrfCookie, Value: "abc"}
	if e.server.checkCSRF(post("/login", "csrf=abc", short)) {
		t.Error("a 3-character double-submit cookie was accepted")
	}
	if !e.server.checkCSRF(post("/login", "csrf="+url.QueryEscape(tok), cs[0])) {
		t.Error("form with the double-submit token refused")
	}
	if e.server.checkCSRF(post("/login", "csrf=other", cs[0])) || e.server.checkCSRF(post("/login", "csrf="+tok, nil)) || e.server.checkCSRF(post("/login", "", cs[0])) {
		t.Error("wrong or missing csrf accepted")
	}
	// A cookie-authenticated form write outside the API.
	e.server.mux.HandleFunc("POST /test/write", e.server.needWriter(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	for form, want := range map[string]int{"csrf=" + e.csrf: http.StatusNoContent, "csrf=x": http.StatusForbidden} {
		rec := httptest.NewRecorder()
		e.server.ServeHTTP(rec, post("/test/write", form, e.session))
		if rec.Code != want {
			t.Errorf("form write with %s = %d, want %d", form, rec.Code, want)
		}
	}
}
