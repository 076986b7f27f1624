package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// loginClient signs in to e's server over real HTTP with the login form's
// CSRF cookie.
type loginClient struct {
	e    *apiEnv
	csrf *http.Cookie
}

func newLoginClient(t *testing.T, e *apiEnv) *loginClient {
	resp, err := e.http.Client().Get(e.http.URL + "/login")
	webMust(t, err)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == csrfCookie {
			return &loginClient{e: e, csrf: c}
		}
	}
	t.Fatal("the login form set no CSRF cookie")
	return nil
}

func (c *loginClient) login(name, pw, next string) *http.Response {
	form := url.Values{"name": {name}, "password": {pw}, "csrf": {c.csrf.Value}, "next": {next}}
	req, _ := http.NewRequest("POST", c.e.http.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(c.csrf)
	resp, err := noRedirects(c.e.http.Client()).Do(req)
	webMust(c.e.t, err)
	resp.Body.Close()
	return resp
}

func retryAfter(t *testing.T, resp *http.Response) time.Duration {
	t.Helper()
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	return time.Duration(secs) * time.Second
}

func TestLoginRateLimit(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	var logs syncBuffer
	e.server.deps.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	clock := &fakeClock{t: time.Now()}
	e.server.logins.byAddr.now, e.server.logins.byName.now = clock.now, clock.now
	c := newLoginClient(t, e)

	// A burst of wrong passwords in parallel: only the free ones (and the
	// one that locks) are checked, the rest are refused with 429.
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			resp := c.login("alice", "wrong", "/")
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] != freeFailsPerName+1 || codes[http.StatusTooManyRequests] != 40-freeFailsPerName-1 {
		t.Errorf("40 wrong passwords at once answered %v", codes)
	}
	// Then the right password is refused too, with Retry-After.
	resp := c.login("alice", testPassword, "/")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password after 40 wrong ones = %d, want 429", resp.StatusCode)
	}
	wait := retryAfter(t, resp)
	if !strings.Contains(logs.String(), "sign-in failed") || !strings.Contains(logs.String(), "user=alice") ||
		!strings.Contains(logs.String(), "remote=127.0.0.1") {
		t.Errorf("failed sign-ins not logged:\n%s", logs.String())
	}
	// Once the delay is over it works, and a hostile next stays on site.
	clock.add(wait)
	resp = c.login("alice", testPassword, "/\t/evil.example")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login after Retry-After = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The delays grow: after the free failures, each one doubles the wait.
	var waits []time.Duration
	for i := 0; len(waits) < 3 && i < 20; i++ {
		resp := c.login("alice", "wrong", "/")
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			waits = append(waits, retryAfter(t, resp))
			clock.add(waits[len(waits)-1])
		case http.StatusUnauthorized:
		default:
			t.Fatalf("wrong password = %d", resp.StatusCode)
		}
	}
	if len(waits) != 3 || waits[0] != time.Second || waits[1] != 2*time.Second || waits[2] != 4*time.Second {
		t.Errorf("waits %v, want [1s 2s 4s]", waits)
	}
}

func TestLoginRateLimitByAddress(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	clock := &fakeClock{t: time.Now()}
	e.server.logins.byAddr.now, e.server.logins.byName.now = clock.now, clock.now
	e.server.logins.byAddr.free = 4 // fewer bcrypt checks than freeFailsPerAddr
	c := newLoginClient(t, e)
	// Spraying many names from one address locks the address, so that
	// even alice's right password is refused from it.
	for i := range 4 + 1 {
		if resp := c.login("user"+strconv.Itoa(i), "wrong", "/"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401", i, resp.StatusCode)
		}
	}
	resp := c.login("alice", testPassword, "/")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("login from a locked address = %d, want 429", resp.StatusCode)
	}
	clock.add(retryAfter(t, resp))
	if resp := c.login("alice", testPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login after Retry-After = %d, want 303", resp.StatusCode)
	}
}
