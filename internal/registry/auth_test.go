package registry

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// serveAccess starts the embedded registry with access and returns it.
func serveAccess(t *testing.T, access Access, root string) *Server {
	t.Helper()
	s, err := Serve(context.Background(), ServerConfig{Addr: "127.0.0.1:0", RootDir: root, Access: access})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// write pushes a random image to ref with kc and returns the error.
func write(t *testing.T, ref string, kc authn.Keychain) error {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return remote.Write(r, img, remote.WithAuthFromKeychain(kc))
}

// read fetches ref's manifest with kc.
func read(t *testing.T, ref string, kc authn.Keychain) error {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Get(r, remote.WithAuthFromKeychain(kc))
	return err
}

func TestRegistryTakesWritesFromHoistOnly(t *testing.T) {
	root := t.TempDir()
	s := serveAccess(t, AccessPublicRead, root)
	anon := authn.NewMultiKeychain()
	hoist := s.Keychain(nil)
	ref := s.Addr() + "/demo/app:test"

	if err := write(t, ref, anon); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("an anonymous push: %v, want UNAUTHORIZED", err)
	}
	wrong := authn.NewKeychainFromHelper(staticHelper{"hoist", "guess"})
	if err := write(t, ref, wrong); err == nil {
		t.Fatal("a push with a wrong password was taken")
	}
	if err := write(t, ref, hoist); err != nil {
		t.Fatalf("Hoist's push: %v", err)
	}
	// Anyone reads: through the token protocol (ggcr) and with plain GETs.
	if err := read(t, ref, anon); err != nil {
		t.Errorf("an anonymous read: %v", err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/v2/demo/app/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"test"`) {
		t.Errorf("anonymous GET tags/list = %d %s", resp.StatusCode, body)
	}
	// An anonymous DELETE, and a forged token, are refused.
	for _, h := range []string{"", "Bearer hoist1.2.99999999999.00", "Bearer x"} {
		req, _ := http.NewRequest("DELETE", "http://"+s.Addr()+"/v2/demo/app/manifests/test", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer realm=") {
			t.Errorf("DELETE with %q = %d %q", h, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// The password is kept private and survives a restart.
	if fi, err := os.Stat(filepath.Join(root, PasswordFile)); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, want 0600", PasswordFile, fi.Mode())
	}
	_, pw := s.Credentials()
	s.Close()
	s2 := serveAccess(t, AccessPublicRead, root)
	if _, pw2 := s2.Credentials(); pw2 != pw || len(pw) < 32 {
		t.Errorf("password after a restart %q, before %q", pw2, pw)
	}
}

func TestRegistryPrivateRead(t *testing.T) {
	s := serveAccess(t, AccessPrivate, t.TempDir())
	ref := s.Addr() + "/demo/app:test"
	if err := write(t, ref, s.Keychain(nil)); err != nil {
		t.Fatalf("Hoist's push: %v", err)
	}
	if err := read(t, ref, authn.NewMultiKeychain()); err == nil {
		t.Error("an anonymous read of a private registry worked")
	}
	resp, err := http.Get("http://" + s.Addr() + "/v2/demo/app/manifests/test")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET manifest = %d, want 401", resp.StatusCode)
	}
	if err := read(t, ref, s.Keychain(nil)); err != nil {
		t.Errorf("Hoist's read: %v", err)
	}
}

func TestRegistryTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := &gate{access: AccessPublicRead, user: "hoist", pass: "pw", key: []byte("k"), now: func() time.Time { return now }}
	w := g.sign(grantWrite, now.Add(time.Minute))
	if g.verify(w) != grantWrite || g.verify(g.sign(grantRead, now.Add(time.Minute))) != grantRead {
		t.Error("fresh tokens do not verify")
	}
	if g.verify(g.sign(grantWrite, now)) != grantNone {
		t.Error("an expired token verifies")
	}
	forged := strings.Replace(w, "hoist1.2.", "hoist1.2.1", 1)
	other := &gate{key: []byte("other"), now: g.now}
	if g.verify(forged) != grantNone || g.verify(other.sign(grantWrite, now.Add(time.Minute))) != grantNone {
		t.Error("a forged token verifies")
	}
	// The token endpoint: anonymous gets read, the credentials write.
	for _, c := range []struct {
		user, pass string
		want       grant
		status     int
	}{{"", "", grantRead, 200}, {"hoist", "pw", grantWrite, 200}, {"hoist", "no", grantNone, 401}} {
		req, _ := http.NewRequest("GET", "/hoist/token?service=hoist&scope=repository:a:push,pull", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		rec := httptest.NewRecorder()
		g.token(rec, req)
		var ans struct{ Token string }
		_ = json.Unmarshal(rec.Body.Bytes(), &ans)
		if rec.Code != c.status || (c.status == 200 && g.verify(ans.Token) != c.want) {
			t.Errorf("token as %q: %d %s", c.user, rec.Code, rec.Body)
		}
		// The OAuth2 password grant containerd and BuildKit POST.
		form := url.Values{"service": {"hoist"}, "scope": {"repository:a:push,pull"}, "client_id": {"buildkit-client"}}
		if c.user != "" {
			form.Set("grant_type", "password")
			form.Set("username", c.user)
			form.Set("password", c.pass)
		}
		req, _ = http.NewRequest("POST", "/hoist/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec = httptest.NewRecorder()
		g.token(rec, req)
		var oauth struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &oauth)
		if rec.Code != c.status || (c.status == 200 && g.verify(oauth.AccessToken) != c.want) {
			t.Errorf("OAuth2 token as %q: %d %s", c.user, rec.Code, rec.Body)
		}
	}
}

// staticHelper is a credential helper with one user and password.
type staticHelper struct{ user, pass string }

func (h staticHelper) Get(string) (string, string, error) { return h.user, h.pass, nil }
