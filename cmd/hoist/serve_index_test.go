package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/reconcile"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/server"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// entryYAML is an index entry of app-id demo building job from branch.
func entryYAML(id int, job, branch string) string {
	return fmt.Sprintf(`  - id: %d
    app-id: demo
    job-id: %s
    git-url: https://git.example.com/%s.git
    git-branch: %s
    git-path: /
    target-file: Dockerfile
    desired-tag: latest
    notify-email: ops@example.com
    build-context: ./
    depends-on: null
`, id, job, job, branch)
}

func indexYAML(entries ...string) string { return "Projects:\n" + strings.Join(entries, "\n") }

// brokenIndex does not validate: the entry has no git-url.
const brokenIndex = `Projects:
  - id: 1
    app-id: demo
    job-id: a
    target-file: Dockerfile
    notify-email: ops@example.com
`

// trackEnv is a tracker over a real store and dispatcher (not running, so
// builds stay queued), with the API and UI served over HTTP.
type trackEnv struct {
	t       *testing.T
	store   *sqlite.Store
	tracker *reconcile.Tracker
	http    *httptest.Server
	token   string
}

func newTrackEnv(t *testing.T, f *serveFlags) *trackEnv {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(f.data, "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	d := sched.NewDispatcher(st, nil, sched.DispatcherOptions{Logger: log})
	tr, err := startTracking(ctx, f, st, d, log)
	if err != nil {
		t.Fatalf("startTracking: %v", err)
	}
	srv := server.New(server.Deps{Store: st, Queue: d, Logger: log}, server.Options{PublicRead: true})
	hs := httptest.NewServer(withIndexHook(srv, tr, f.track.secret))
	t.Cleanup(hs.Close)
	e := &trackEnv{t: t, store: st, tracker: tr, http: hs}
	u := pipeline.User{Name: "alice", PasswordHash: "x", Created: time.Now(), Admin: true}
	must(t, st.CreateUser(ctx, &u))
	secret, hash, err := server.NewSecret()
	must(t, err)
	must(t, st.PutCredential(ctx, pipeline.Credential{Kind: pipeline.CredentialToken, Hash: hash, UserID: u.ID, Name: "test", Created: time.Now()}))
	e.token = secret
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// reconcile runs one reconcile and checks it recorded want.
func (e *trackEnv) reconcile(want pipeline.Reconcile) {
	e.t.Helper()
	got, err := e.tracker.Reconcile(e.t.Context())
	must(e.t, err)
	opts := []cmp.Option{cmpopts.EquateEmpty(), cmpopts.IgnoreFields(pipeline.Reconcile{}, "ID", "Time", "Revision")}
	if d := cmp.Diff(want, got, opts...); d != "" {
		e.t.Errorf("reconcile mismatch (-want +got):\n%s", d)
	}
	rs, err := e.store.Reconciles(e.t.Context(), 1)
	must(e.t, err)
	if len(rs) != 1 || rs[0].ID != got.ID || rs[0].Revision != got.Revision {
		e.t.Errorf("newest recorded reconcile = %+v, want the one just made (%d, %s)", rs, got.ID, got.Revision)
	} else if d := cmp.Diff(got, rs[0], cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(0)); d != "" {
		e.t.Errorf("recorded reconcile mismatch (-returned +stored):\n%s", d)
	}
}

// builds returns the causes of a project's builds, oldest first, and
// whether it is disabled.
func (e *trackEnv) builds(key string) ([]string, bool) {
	e.t.Helper()
	p, err := e.store.Project(e.t.Context(), key)
	must(e.t, err)
	bs, err := e.store.Builds(e.t.Context(), key, 0)
	must(e.t, err)
	var causes []string
	for i := len(bs) - 1; i >= 0; i-- {
		causes = append(causes, string(bs[i].Status)+": "+bs[i].Cause)
	}
	return causes, p.Disabled
}

// finishAll runs every queued build to success, as a worker would.
func (e *trackEnv) finishAll() {
	e.t.Helper()
	for {
		b, err := e.store.Claim(e.t.Context(), time.Now())
		if errors.Is(err, pipeline.ErrNotFound) {
			return
		}
		must(e.t, err)
		b.Status, b.Finished = pipeline.StatusSucceeded, time.Now()
		must(e.t, e.store.UpdateBuild(e.t.Context(), b))
	}
}

func (e *trackEnv) get(path string) (int, string) {
	e.t.Helper()
	resp, err := http.Get(e.http.URL + path)
	must(e.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (e *trackEnv) trigger(key string) (int, string) {
	e.t.Helper()
	ns, name, _ := strings.Cut(strings.TrimSuffix(key, ":latest"), "/")
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.http.URL+"/api/v1/projects/"+ns+"/"+name+"/builds", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// checkTracking walks an index through its life: two entries; a change, an
// addition and a removal; a broken index; its fix. write puts the index
// file's content in place (a commit, or a file edit).
func checkTracking(t *testing.T, e *trackEnv, write func(content string)) {
	const a, b, c = "demo/a:latest", "demo/b:latest", "demo/c:latest"
	cause := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "succeeded: " + reconcile.Cause
		}
		return out
	}
	// startTracking made the first reconcile.
	for _, key := range []string{a, b} {
		if causes, disabled := e.builds(key); !cmp.Equal(causes, []string{"queued: index changed"}) || disabled {
			t.Errorf("%s after the first reconcile: builds %q, disabled %v; want one queued build", key, causes, disabled)
		}
	}
	e.finishAll()

	write(indexYAML(entryYAML(1, "a", "dev"), entryYAML(3, "c", "main")))
	e.reconcile(pipeline.Reconcile{
		Added:   []string{c},
		Changed: []pipeline.ProjectChange{{Key: a, Fields: []pipeline.FieldChange{{Field: "git-branch", Old: "main", New: "dev"}}}},
		Removed: []string{b},
	})
	if causes, _ := e.builds(a); !cmp.Equal(causes, append(cause(1), "queued: index changed")) {
		t.Errorf("%s builds %q, want a new one queued", a, causes)
	}
	if causes, _ := e.builds(c); !cmp.Equal(causes, []string{"queued: index changed"}) {
		t.Errorf("%s builds %q, want one queued", c, causes)
	}
	if causes, disabled := e.builds(b); !cmp.Equal(causes, cause(1)) || !disabled {
		t.Errorf("%s: builds %q, disabled %v; want disabled with its build kept", b, causes, disabled)
	}
	if code, body := e.trigger(b); code != http.StatusConflict || !strings.Contains(body, "disabled") {
		t.Errorf("triggering disabled %s: %d %s; want 409 saying it is disabled", b, code, body)
	}
	if code, body := e.get("/api/v1/projects/demo/b"); code != 200 || !strings.Contains(body, `"disabled": true`) {
		t.Errorf("GET disabled project: %d %s", code, body)
	}
	if code, body := e.get("/"); code != 200 || !strings.Contains(body, `class="tag disabled"`) {
		t.Errorf("project list: %d, %s not shown disabled", code, b)
	}
	if code, body := e.get("/p/demo/b"); code != 200 || !strings.Contains(body, "Its entry left the index") {
		t.Errorf("project page of disabled %s: %d, no disabled note", b, code)
	}
	e.finishAll()

	write(brokenIndex)
	got, err := e.tracker.Reconcile(t.Context())
	must(t, err)
	if len(got.Errors) == 0 || !strings.Contains(got.Errors[0], "demo.yaml:") || len(got.Added)+len(got.Changed)+len(got.Removed) > 0 {
		t.Errorf("broken index reconciled as %+v, want errors and no change", got)
	}
	for key, want := range map[string]bool{a: false, b: true, c: false} {
		if causes, disabled := e.builds(key); disabled != want || len(causes) == 0 || strings.HasPrefix(causes[len(causes)-1], "queued") {
			t.Errorf("%s after a broken index: builds %q, disabled %v; want unchanged", key, causes, disabled)
		}
	}
	if code, body := e.get("/index"); code != 200 || !strings.Contains(body, "The index has errors") || !strings.Contains(body, "git-url") {
		t.Errorf("/index with a broken index: %d, errors not shown:\n%s", code, body)
	}
	if again, err := e.tracker.Reconcile(t.Context()); err != nil || again.ID != 0 {
		t.Errorf("reconciling the same broken index again recorded %d (err %v), want nothing recorded", again.ID, err)
	}

	write(indexYAML(entryYAML(1, "a", "dev"), entryYAML(2, "b", "main"), entryYAML(3, "c", "main")))
	e.reconcile(pipeline.Reconcile{Added: []string{b}})
	if causes, disabled := e.builds(b); !cmp.Equal(causes, append(cause(1), "queued: index changed")) || disabled {
		t.Errorf("re-enabled %s: builds %q, disabled %v", b, causes, disabled)
	}
	code, body := e.get("/index")
	if code != 200 || strings.Contains(body, "The index has errors") ||
		!strings.Contains(body, `class="diff-add"`) || !strings.Contains(body, `class="diff-remove"`) ||
		!strings.Contains(body, `git-branch: <span class="diff-old">main</span> → <span class="diff-new">dev</span>`) {
		t.Errorf("/index after the fix: %d\n%s", code, body)
	}
	if code, body := e.get("/api/v1/index/reconciles"); code != 200 || strings.Count(body, `"revision"`) != 4 {
		t.Errorf("GET /api/v1/index/reconciles: %d, want 4 reconciles:\n%s", code, body)
	}
	if again, err := e.tracker.Reconcile(t.Context()); err != nil || again.ID != 0 {
		t.Errorf("reconciling an unchanged index recorded %d (err %v), want nothing recorded", again.ID, err)
	}
}

func TestTrackGitIndex(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{
		"index.d/demo.yaml": indexYAML(entryYAML(1, "a", "main"), entryYAML(2, "b", "main")),
	})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	f := &serveFlags{indexes: listFlag{url}, data: t.TempDir(),
		track: indexFlags{branch: "main", path: "index.d", interval: time.Hour, secret: "s3cret"}}
	e := newTrackEnv(t, f)
	checkTracking(t, e, func(content string) {
		testenv.Commit(t, repo, map[string]string{"index.d/demo.yaml": content}, "index change")
	})
}

func TestTrackFolderIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index.d")
	file := filepath.Join(dir, "demo.yaml")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(file, []byte(indexYAML(entryYAML(1, "a", "main"), entryYAML(2, "b", "main"))), 0o644))
	f := &serveFlags{indexes: listFlag{dir}, data: t.TempDir(), track: indexFlags{interval: time.Hour}}
	e := newTrackEnv(t, f)
	mtime := time.Now()
	checkTracking(t, e, func(content string) {
		must(t, os.WriteFile(file, []byte(content), 0o644))
		mtime = mtime.Add(time.Second) // a coarse clock must still see a change
		must(t, os.Chtimes(file, mtime, mtime))
	})
}

func TestIndexHook(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"index.d/demo.yaml": indexYAML(entryYAML(1, "a", "main"))})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	f := &serveFlags{indexes: listFlag{url}, data: t.TempDir(),
		track: indexFlags{branch: "main", path: "index.d", interval: time.Hour, secret: "s3cret"}}
	e := newTrackEnv(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go e.tracker.Run(ctx)
	testenv.Commit(t, repo, map[string]string{"index.d/demo.yaml": indexYAML(entryYAML(1, "a", "main"), entryYAML(2, "b", "main"))}, "add b")

	post := func(sig string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.http.URL+"/hooks/index", strings.NewReader(`{"ref":"refs/heads/main"}`))
		if sig != "" {
			req.Header.Set(reconcile.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, sig := range map[string]string{"missing": "", "forged": reconcile.Sign([]byte("wrong"), []byte(`{"ref":"refs/heads/main"}`))} {
		if code := post(sig); code != http.StatusUnauthorized {
			t.Errorf("%s signature: %d, want 401", name, code)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := e.store.Project(t.Context(), "demo/b:latest"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("an unsigned webhook reconciled the index (err %v)", err)
	}
	if code := post(reconcile.Sign([]byte("s3cret"), []byte(`{"ref":"refs/heads/main"}`))); code != http.StatusAccepted {
		t.Fatalf("signed webhook: %d, want 202", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.store.Project(t.Context(), "demo/b:latest"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the signed webhook did not reconcile the index within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIsGitIndex(t *testing.T) {
	tests := []struct {
		arg, branch string
		git         bool
	}{
		{"index.d", "", false},
		{"/srv/index/index.yml", "", false},
		{"https://git.example.com/org/index.git", "", true},
		{"https://git.example.com/org/index", "", true},
		{"file:///srv/index", "", true},
		{"git@git.example.com:org/index", "", true},
		{"/srv/index.git", "", true},
		{"/srv/index", "main", true},
	}
	for _, tc := range tests {
		if got := isGitIndex(tc.arg, tc.branch); got != tc.git {
			t.Errorf("isGitIndex(%q, %q) = %v, want %v", tc.arg, tc.branch, got, tc.git)
		}
	}
}

// A relative git-url in a git index names a folder of the index's checkout,
// which stays at one path from one fetch to the next; reading the same
// commit again records nothing.
func TestTrackGitIndexRelativeURL(t *testing.T) {
	entry := strings.Replace(entryYAML(1, "a", "main"), "https://git.example.com/a.git", "..", 1)
	repo := testenv.GitRepo(t, map[string]string{"index.d/demo.yaml": indexYAML(entry)})
	url := "file://" + repo
	f := &serveFlags{indexes: listFlag{url}, data: t.TempDir(), track: indexFlags{path: "index.d", interval: time.Hour}}
	e := newTrackEnv(t, f)
	p, err := e.store.Project(t.Context(), "demo/a:latest")
	must(t, err)
	if want := filepath.Join(f.data, "index", "checkout"); p.GitURL != want {
		t.Errorf("git-url .. resolved to %q, want the checkout %q", p.GitURL, want)
	}
	if again, err := e.tracker.Reconcile(t.Context()); err != nil || again.ID != 0 {
		t.Errorf("reconciling the same commit again recorded %d (err %v), want nothing recorded", again.ID, err)
	}
}
