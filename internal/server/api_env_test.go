package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// apiEnv is a Server over a real SQLite store, served by httptest, with
// one user, alice, who has an API token and a browser session.
type apiEnv struct {
	t       *testing.T
	dir     string
	store   *sqlite.Store
	queue   *storeQueue
	scanner *storeRescanner
	server  *Server
	http    *httptest.Server
	token   string       // alice's API token
	session *http.Cookie // alice's session cookie
	csrf    string       // the CSRF token of that session
}

const testPassword = "correct horse battery staple"

// testHash is one bcrypt hash of testPassword, made once: bcrypt is slow
// on purpose, more so under -race.
var testHash = sync.OnceValue(func() string {
	h, err := HashPassword(testPassword)
	if err != nil {
		panic(err)
	}
	return h
})

func newAPIEnv(t *testing.T, opts Options) *apiEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if opts.LogPoll == 0 {
		opts.LogPoll = 10
	}
	e := &apiEnv{t: t, dir: dir, store: st, queue: &storeQueue{store: st}, scanner: &storeRescanner{store: st}}
	e.server = New(Deps{Store: st, Queue: e.queue, Rescanner: e.scanner}, opts)
	e.http = httptest.NewServer(e.server)
	t.Cleanup(e.http.Close)

	u := pipeline.User{Name: "alice", PasswordHash: testHash(), Created: time.Now(), Admin: true}
	if err := st.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	secret, hash, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutCredential(ctx, pipeline.Credential{Kind: pipeline.CredentialToken, Hash: hash, UserID: u.ID, Name: "test", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.token = secret
	// A session as login makes one, without login's slow bcrypt check;
	// TestLoginSession logs in for real.
	session, hash, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutCredential(ctx, pipeline.Credential{Kind: pipeline.CredentialSession, Hash: hash, UserID: u.ID,
		Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	e.session = &http.Cookie{Name: sessionCookie, Value: session}
	e.csrf = sessionCSRF(e.session.Value)
	return e
}

// login signs in through Server.login and returns the session cookie.
func (e *apiEnv) login(name, pw string) *http.Cookie {
	e.t.Helper()
	rec := httptest.NewRecorder()
	if err := e.server.login(rec, httptest.NewRequest("POST", "/login", nil), name, pw); err != nil {
		e.t.Fatalf("login: %v", err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	e.t.Fatal("login set no session cookie")
	return nil
}

// The ways a test request authenticates.
type authBy int

const (
	anon         authBy = iota
	byToken             // Authorization: Bearer
	byCookie            // the session cookie, without the CSRF token
	byCookieCSRF        // the session cookie and X-CSRF-Token
	byBadToken          // a token that was never issued
)

// do sends a request and returns the status and the body.
func (e *apiEnv) do(method, path, body string, by authBy) (int, []byte) {
	e.t.Helper()
	resp := e.send(method, path, body, by)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (e *apiEnv) send(method, path, body string, by authBy) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch by {
	case byToken:
		req.Header.Set("Authorization", "Bearer "+e.token)
	case byBadToken:
		req.Header.Set("Authorization", "Bearer not-a-token")
	case byCookie, byCookieCSRF:
		req.AddCookie(e.session)
		if by == byCookieCSRF {
			req.Header.Set(csrfHeader, e.csrf)
		}
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// json sends a request that must answer want, and decodes the body into out.
func (e *apiEnv) json(method, path, body string, by authBy, want int, out any) {
	e.t.Helper()
	status, b := e.do(method, path, body, by)
	if status != want {
		e.t.Fatalf("%s %s = %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}

// errorBody is the API's error answer.
type errorBody struct {
	Error struct {
		Code    string       `json:"code"`
		Message string       `json:"message"`
		Field   string       `json:"field"`
		Fields  []FieldError `json:"fields"`
	} `json:"error"`
}

// apiErr sends a request that must fail with status, and returns its error.
func (e *apiEnv) apiErr(method, path, body string, by authBy, status int) errorBody {
	e.t.Helper()
	var eb errorBody
	e.json(method, path, body, by, status, &eb)
	if eb.Error.Code == "" || eb.Error.Message == "" {
		e.t.Fatalf("%s %s: error without code or message: %+v", method, path, eb)
	}
	return eb
}

// putProject stores p directly, as the index loader does.
func (e *apiEnv) putProject(p pipeline.Project) pipeline.Project {
	e.t.Helper()
	if err := e.store.PutProject(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func testProject(ns, name string) pipeline.Project {
	return pipeline.Project{AppID: ns, JobID: name, Tag: "latest", GitURL: "https://example.com/" + name + ".git",
		GitBranch: "master", GitPath: ".", TargetFile: "Dockerfile", BuildContext: "."}
}

// storeQueue is the Queue seam over the real store: Trigger enqueues in
// the store; Cancel cancels a queued build there, and a running one as the
// dispatcher would, by marking it cancelled.
type storeQueue struct {
	store *sqlite.Store
	mu    sync.Mutex
	calls []string
}

func (q *storeQueue) Trigger(ctx context.Context, key, cause string) (pipeline.Build, bool, error) {
	q.record("trigger " + key + " " + cause)
	if _, err := q.store.Project(ctx, key); err != nil {
		return pipeline.Build{}, false, err
	}
	return q.store.Enqueue(ctx, key, cause, time.Now())
}

func (q *storeQueue) TriggerForced(ctx context.Context, key, cause string) (pipeline.Build, bool, error) {
	return q.Trigger(ctx, key, cause)
}

func (q *storeQueue) Cancel(ctx context.Context, id int64, by string) error {
	q.record("cancel " + by)
	b, err := q.store.Build(ctx, id)
	if err != nil {
		return err
	}
	if b.Status.Done() {
		return pipeline.ErrFinished
	}
	if ok, err := q.store.CancelQueued(ctx, id, "cancelled by "+by, time.Now()); ok || err != nil {
		return err
	}
	b.Status, b.Reason, b.Finished = pipeline.StatusCancelled, "cancelled by "+by, time.Now()
	return q.store.UpdateBuild(ctx, b)
}

func (q *storeQueue) Rebuild(ctx context.Context, id int64, by string) (pipeline.Build, error) {
	q.record("rebuild " + by)
	old, err := q.store.Build(ctx, id)
	if err != nil {
		return old, err
	}
	if !old.Status.Done() {
		return old, pipeline.ErrNotFinished
	}
	b, _, err := q.store.Enqueue(ctx, old.Project, "rebuild", time.Now())
	if err == nil {
		err = q.store.PinCommit(ctx, b.ID, old.Commit)
	}
	return b, err
}

func (q *storeQueue) record(s string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, s)
}
