package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

const (
	hookSecret = "s3cret-for-hooks"
	hookSHA    = "0123456789abcdef0123456789abcdef01234567"
)

// hookEnv is a Server whose webhooks queue into a real SQLite store holding
// two projects on github.com/org/repo, branch main.
type hookEnv struct {
	t       *testing.T
	store   *sqlite.Store
	url     string
	handler http.Handler // the server itself, for what a client cannot see
}

func newHookEnv(t *testing.T, secrets WebhookSecrets) *hookEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, p := range []pipeline.Project{
		{AppID: "org", JobID: "web", Tag: "latest", GitURL: "https://github.com/org/repo", GitBranch: "main", TargetFile: "Dockerfile"},
		{AppID: "org", JobID: "api", Tag: "latest", GitURL: "git@github.com:org/repo.git", GitBranch: "main", TargetFile: "Dockerfile"},
	} {
		if err := st.PutProject(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	h := New(Deps{Store: st, Pushes: sched.NewPushes(st, nil, nil)}, Options{Webhooks: secrets})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &hookEnv{t: t, store: st, url: srv.URL, handler: h}
}

// post delivers body to path with headers and returns the status and the
// decoded answer.
func (e *hookEnv) post(path string, body []byte, headers map[string]string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	return resp.StatusCode, ans
}

// builds counts the builds of org/web:latest, and checks their cause.
func (e *hookEnv) builds() int {
	e.t.Helper()
	bs, err := e.store.Builds(e.t.Context(), "org/web:latest", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range bs {
		if b.Cause != "git push 0123456 to main" || b.Commit != hookSHA {
			e.t.Errorf("build %+v: want cause %q at %s", b, "git push 0123456 to main", hookSHA)
		}
	}
	return len(bs)
}

func sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// provider is how one provider's delivery is made.
type provider struct {
	path    string
	payload func(repo, ref string) []byte
	headers func(body []byte, secret string) map[string]string
}

func forgePayload(field string) func(repo, ref string) []byte {
	return func(repo, ref string) []byte {
		return fmt.Appendf(nil, `{"ref":%q,"after":%q,"repository":{%q:%q},"commits":[]}`, ref, hookSHA, field, repo)
	}
}

var providers = map[string]provider{
	"github": {"/hooks/github", forgePayload("clone_url"), func(b []byte, s string) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(b, s)}
	}},
	"gitlab": {"/hooks/gitlab", forgePayload("git_http_url"), func(_ []byte, s string) map[string]string {
		return map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": s}
	}},
	"gitea": {"/hooks/gitea", forgePayload("clone_url"), func(b []byte, s string) map[string]string {
		return map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(b, s)}
	}},
	"forgejo": {"/hooks/gitea", forgePayload("clone_url"), func(b []byte, s string) map[string]string {
		return map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Signature": sign(b, s)}
	}},
	"generic": {"/hooks/generic", func(repo, ref string) []byte {
		return fmt.Appendf(nil, `{"repo":%q,"branch":%q,"commit":%q}`, repo, strings.TrimPrefix(ref, "refs/heads/"), hookSHA)
	}, func(b []byte, s string) map[string]string {
		return map[string]string{"X-Hoist-Signature": "sha256=" + sign(b, s)}
	}},
}

func TestWebhooksSignedForgedRedeliveredUntracked(t *testing.T) {
	for name, p := range providers {
		t.Run(name, func(t *testing.T) {
			e := newHookEnv(t, WebhookSecrets{Shared: hookSecret})
			body := p.payload("https://GitHub.com/org/repo.git", "refs/heads/main")

			for what, headers := range map[string]map[string]string{
				"forged":      p.headers(body, "not-the-secret"),
				"missing":     {"X-GitHub-Event": "push", "X-Gitlab-Event": "Push Hook", "X-Gitea-Event": "push"},
				"other body":  p.headers(p.payload("https://github.com/org/repo", "refs/heads/dev"), hookSecret),
				"bare hex":    map[string]string{"X-Hoist-Signature": sign(body, hookSecret)}, // generic needs sha256=
				"wrong token": {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": hookSecret + "x"},
			} {
				if what == "bare hex" && name != "generic" || what == "other body" && name == "gitlab" {
					continue // a valid delivery for those providers
				}
				if code, ans := e.post(p.path, body, headers); code != http.StatusUnauthorized {
					t.Errorf("%s delivery: %d %v, want 401", what, code, ans)
				}
			}
			if n := e.builds(); n != 0 {
				t.Fatalf("refused deliveries queued %d builds", n)
			}

			code, ans := e.post(p.path, body, p.headers(body, hookSecret))
			if code != http.StatusAccepted || len(ans["builds"].([]any)) != 2 {
				t.Fatalf("signed delivery: %d %v, want 202 with 2 builds", code, ans)
			}
			code, ans = e.post(p.path, body, p.headers(body, hookSecret)) // a redelivery
			if code != http.StatusAccepted || !strings.Contains(fmt.Sprint(ans), "duplicate") {
				t.Errorf("redelivery: %d %v", code, ans)
			}
			if n := e.builds(); n != 1 {
				t.Errorf("after a delivery and a redelivery org/web has %d builds, want 1", n)
			}

			dev := p.payload("git@github.com:org/repo.git", "refs/heads/dev")
			code, ans = e.post(p.path, dev, p.headers(dev, hookSecret))
			if code != http.StatusAccepted || !strings.Contains(fmt.Sprint(ans["message"]), "nothing to build") {
				t.Errorf("push to an untracked branch: %d %v, want 202 nothing to build", code, ans)
			}
			if n := e.builds(); n != 1 {
				t.Errorf("a push to an untracked branch queued a build: %d builds", n)
			}
		})
	}
}

func TestWebhookPingsEventsAndLimits(t *testing.T) {
	e := newHookEnv(t, WebhookSecrets{Shared: hookSecret, GitLab: "gitlab-own"})
	ping := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	if code, ans := e.post("/hooks/github", ping, map[string]string{"X-GitHub-Event": "ping",
		"X-Hub-Signature-256": "sha256=" + sign(ping, hookSecret)}); code != http.StatusOK {
		t.Errorf("ping: %d %v, want 200", code, ans)
	}
	if code, _ := e.post("/hooks/github", ping, map[string]string{"X-GitHub-Event": "ping"}); code != http.StatusUnauthorized {
		t.Errorf("unsigned ping: %d, want 401", code)
	}
	if code, ans := e.post("/hooks/github", ping, map[string]string{"X-GitHub-Event": "issues",
		"X-Hub-Signature-256": "sha256=" + sign(ping, hookSecret)}); code != http.StatusAccepted || !strings.Contains(fmt.Sprint(ans), "ignored") {
		t.Errorf("another event: %d %v, want 202 ignored", code, ans)
	}
	tag := forgePayload("clone_url")("https://github.com/org/repo", "refs/tags/v1")
	if code, ans := e.post("/hooks/github", tag, providers["github"].headers(tag, hookSecret)); code != http.StatusAccepted || !strings.Contains(fmt.Sprint(ans), "not a branch") {
		t.Errorf("a tag push: %d %v", code, ans)
	}
	gl := forgePayload("git_http_url")("https://github.com/org/repo", "refs/heads/main")
	if code, _ := e.post("/hooks/gitlab", gl, providers["gitlab"].headers(gl, hookSecret)); code != http.StatusUnauthorized {
		t.Errorf("gitlab with the shared secret while it has its own: %d, want 401", code)
	}
	if code, _ := e.post("/hooks/gitlab", gl, providers["gitlab"].headers(gl, "gitlab-own")); code != http.StatusAccepted {
		t.Errorf("gitlab with its own secret: %d, want 202", code)
	}
	bad := []byte(`{"repo":"https://github.com/org/repo","branch":"main","commit":"zzz"}`)
	if code, ans := e.post("/hooks/generic", bad, providers["generic"].headers(bad, hookSecret)); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(ans), "commit") {
		t.Errorf("generic with a bad commit: %d %v, want 400 naming commit", code, ans)
	}
	big := bytes.Repeat([]byte(" "), maxHookBody+1)
	if code, _ := e.post("/hooks/generic", big, providers["generic"].headers(big, hookSecret)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 5 MB+ body: %d, want 413", code)
	}
}

func TestWebhooksWithoutSecret(t *testing.T) {
	e := newHookEnv(t, WebhookSecrets{})
	body := providers["github"].payload("https://github.com/org/repo", "refs/heads/main")
	code, ans := e.post("/hooks/github", body, providers["github"].headers(body, ""))
	if code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(ans), "--webhook-secret") {
		t.Errorf("no secret: %d %v, want 503 saying how to set one", code, ans)
	}
	if n := e.builds(); n != 0 {
		t.Errorf("queued %d builds without a secret", n)
	}
}

// countingBody is a request body of n bytes that counts what was read.
type countingBody struct {
	n, read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.read >= b.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), b.n-b.read)
	clear(p[:k])
	b.read += k
	return int(k), nil
}

func (b *countingBody) Close() error { return nil }

func TestWebhookBodyReadOnlyWhenAdmitted(t *testing.T) {
	e := newHookEnv(t, WebhookSecrets{Shared: hookSecret, GitLab: "gitlab-own"})
	const tenMB = 10 << 20
	wellFormed := "sha256=" + strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		path    string
		headers map[string]string
		length  int64 // the Content-Length sent; -1 unknown
		status  int
		maxRead int64
	}{
		{"github unsigned", "/hooks/github", nil, -1, http.StatusUnauthorized, 0},
		{"github bad signature form", "/hooks/github", map[string]string{"X-Hub-Signature-256": "sha256=zz"}, -1, http.StatusUnauthorized, 0},
		{"gitlab no token", "/hooks/gitlab", nil, -1, http.StatusUnauthorized, 0},
		{"gitlab wrong token", "/hooks/gitlab", map[string]string{"X-Gitlab-Token": hookSecret}, -1, http.StatusUnauthorized, 0},
		{"gitea unsigned", "/hooks/gitea", nil, -1, http.StatusUnauthorized, 0},
		{"generic without prefix", "/hooks/generic", map[string]string{"X-Hoist-Signature": strings.Repeat("ab", 32)}, -1, http.StatusUnauthorized, 0},
		{"signed, too long by its header", "/hooks/github", map[string]string{"X-Hub-Signature-256": wellFormed}, tenMB, http.StatusRequestEntityTooLarge, 0},
		{"signed, too long unannounced", "/hooks/github", map[string]string{"X-Hub-Signature-256": wellFormed}, -1, http.StatusRequestEntityTooLarge, maxHookBody + 64<<10},
		{"gitlab token, too long unannounced", "/hooks/gitlab", map[string]string{"X-Gitlab-Token": "gitlab-own"}, -1, http.StatusRequestEntityTooLarge, maxHookBody + 64<<10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := &countingBody{n: tenMB}
			req := httptest.NewRequest("POST", c.path, nil)
			req.Body, req.ContentLength = body, c.length
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			if rec.Code != c.status || body.read > c.maxRead {
				t.Errorf("%s: %d after reading %d bytes, want %d after at most %d", c.path, rec.Code, body.read, c.status, c.maxRead)
			}
		})
	}
	if n := e.builds(); n != 0 {
		t.Errorf("queued %d builds", n)
	}
}

// TestWebhookForcePushBack: a push that moves the branch back from the
// commit built last to one built before (git push --force of an older
// commit) builds it again, while a replay of the older push's delivery
// still builds nothing. GitHub, GitLab and Gitea all send "before".
func TestWebhookForcePushBack(t *testing.T) {
	const (
		zero = "0000000000000000000000000000000000000000"
		shaA = "aaaaaaa111111111111111111111111111111111"
		shaB = "bbbbbbb222222222222222222222222222222222"
	)
	for _, name := range []string{"github", "gitlab", "gitea"} {
		t.Run(name, func(t *testing.T) {
			p := providers[name]
			e := newHookEnv(t, WebhookSecrets{Shared: hookSecret})
			field := map[string]string{"github": "clone_url", "gitlab": "git_http_url", "gitea": "clone_url"}[name]
			push := func(before, after string) string {
				t.Helper()
				body := fmt.Appendf(nil, `{"ref":"refs/heads/main","before":%q,"after":%q,"repository":{%q:"https://github.com/org/repo"}}`,
					before, after, field)
				code, ans := e.post(p.path, body, p.headers(body, hookSecret))
				if code != http.StatusAccepted {
					t.Fatalf("push %.7s..%.7s: %d %v", before, after, code, ans)
				}
				return fmt.Sprint(ans)
			}
			finishAll := func() {
				t.Helper()
				for {
					b, err := e.store.Claim(t.Context(), time.Now())
					if errors.Is(err, pipeline.ErrNotFound) {
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					b.Status, b.Finished = pipeline.StatusSucceeded, time.Now()
					if err := e.store.UpdateBuild(t.Context(), b); err != nil {
						t.Fatal(err)
					}
				}
			}
			commits := func() []string {
				bs, err := e.store.Builds(t.Context(), "org/web:latest", 0)
				if err != nil {
					t.Fatal(err)
				}
				var cs []string
				for _, b := range bs {
					cs = append(cs, b.Commit[:7])
				}
				return cs
			}
			push(zero, shaA)
			finishAll()
			push(shaA, shaB)
			finishAll()
			if ans := push(zero, shaA); !strings.Contains(ans, "duplicate") { // the first delivery, replayed
				t.Errorf("replay of the push of %.7s: %s, want a duplicate", shaA, ans)
			}
			if ans := push(shaB, shaA); strings.Contains(ans, "duplicate") {
				t.Errorf("force-push back from %.7s to %.7s: %s, want a new build", shaB, shaA, ans)
			}
			if got, want := strings.Join(commits(), " "), "aaaaaaa bbbbbbb aaaaaaa"; got != want {
				t.Errorf("builds of org/web, newest first: %s; want %s", got, want)
			}
		})
	}
}
