package registry

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Access says who may use the embedded registry.
type Access int

// The access modes. AccessOpen is distribution's own default, for tests.
const (
	// AccessOpen: anyone reads and writes.
	AccessOpen Access = iota
	// AccessPublicRead: anyone reads; only holders of the server's
	// credentials (Hoist itself) write. hoist serve's default.
	AccessPublicRead
	// AccessPrivate: only holders of the server's credentials read or write.
	AccessPrivate
)

// PasswordFile is the file in RootDir holding the password of the
// registry's one user (0600), made on first use.
const PasswordFile = "hoist.password"

const (
	credentialsUser = "hoist"
	// tokenPath is where clients trade credentials (or nothing) for a
	// bearer token, as Docker Hub's auth server does; outside /v2/.
	tokenPath = "/hoist/token"
	tokenTTL  = time.Hour
)

// gate is the auth in front of the registry. Docker's engine sends
// credentials only to a registry whose /v2/ ping asks for them, and then
// anonymous pulls must work too, so it speaks the token protocol: /v2/
// answers 401 with a Bearer challenge, and tokenPath hands a write token
// for the right basic credentials, a read token to anyone when reads are
// public, and nothing else. Requests may also carry the basic credentials
// themselves. Anonymous reads of public content pass without a token.
type gate struct {
	next       http.Handler
	access     Access
	user, pass string
	key        []byte // signs tokens
	now        func() time.Time
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.access == AccessOpen {
		g.next.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == tokenPath {
		g.token(w, r)
		return
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	switch g.allowed(r) {
	case grantWrite:
		g.next.ServeHTTP(w, r)
		return
	case grantRead:
		if !write {
			g.next.ServeHTTP(w, r)
			return
		}
	case grantNone:
		if !write && g.access == AccessPublicRead && r.URL.Path != "/v2/" {
			g.next.ServeHTTP(w, r)
			return
		}
	}
	realm := "http://" + r.Host + tokenPath
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="hoist"`, realm))
	msg := "this registry takes writes from Hoist only"
	if !write {
		msg = "this registry's images are private (hoist serve --public-read=false)"
	}
	if r.URL.Path == "/v2/" {
		msg = "authentication required"
	}
	registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", msg)
}

// grant is what a request's credentials allow.
type grant int

const (
	grantNone grant = iota
	grantRead
	grantWrite
)

// allowed checks the request's basic credentials or bearer token.
func (g *gate) allowed(r *http.Request) grant {
	if u, p, ok := r.BasicAuth(); ok {
		if g.match(u, p) {
			return grantWrite
		}
		return grantNone
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return grantNone
	}
	return g.verify(strings.TrimSpace(tok))
}

// match compares credentials in constant time.
func (g *gate) match(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(g.user))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(g.pass))
	return u&p == 1
}

// token serves tokenPath: a write token for the registry's credentials, a
// read token for anyone when reads are public. The credentials come as
// basic auth on a GET (Docker, go-containerregistry) or as the OAuth2
// password grant of a POST form (containerd and BuildKit, which otherwise
// would get a read token and fail to push).
func (g *gate) token(w http.ResponseWriter, r *http.Request) {
	gr := grantNone
	u, p, ok := r.BasicAuth()
	if !ok && r.Method == http.MethodPost && r.PostFormValue("grant_type") == "password" {
		u, p, ok = r.PostFormValue("username"), r.PostFormValue("password"), true
	}
	if ok {
		if !g.match(u, p) {
			registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "wrong user name or password")
			return
		}
		gr = grantWrite
	} else if g.access == AccessPublicRead {
		gr = grantRead
	}
	if gr == grantNone {
		w.Header().Set("WWW-Authenticate", `Basic realm="hoist"`)
		registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "this registry's images are private")
		return
	}
	now := g.now()
	tok := g.sign(gr, now.Add(tokenTTL))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok,
		"expires_in": int(tokenTTL / time.Second), "issued_at": now.UTC().Format(time.RFC3339)})
}

// sign makes a token: "hoist1.GRANT.EXPIRES.MAC".
func (g *gate) sign(gr grant, exp time.Time) string {
	body := fmt.Sprintf("hoist1.%d.%d", gr, exp.Unix())
	mac := hmac.New(sha256.New, g.key)
	mac.Write([]byte(body))
	return body + "." + hex.EncodeToString(mac.Sum(nil))
}

// verify returns what a token grants; grantNone for a forged or expired one.
func (g *gate) verify(tok string) grant {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return grantNone
	}
	body, sig := tok[:i], tok[i+1:]
	mac := hmac.New(sha256.New, g.key)
	mac.Write([]byte(body))
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return grantNone
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 || parts[0] != "hoist1" {
		return grantNone
	}
	gr, err1 := strconv.Atoi(parts[1])
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || !g.now().Before(time.Unix(exp, 0)) || gr < int(grantRead) || gr > int(grantWrite) {
		return grantNone
	}
	return grant(gr)
}

// registryError writes an error the way the distribution API does.
func registryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// loadPassword reads the registry's password in path, creating it (0600)
// on first use.
func loadPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return "", fmt.Errorf("making %s private: %w", path, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading the registry's password: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the registry's password: %w", err)
	}
	return pw, nil
}

// Credentials returns the user name and password that may write to the
// server (and read it when it is private).
func (s *Server) Credentials() (user, password string) { return s.user, s.pass }

// Keychain returns a keychain that answers the server's own credentials
// for its address and asks fallback (nil: anonymous) for every other
// registry. Give it to the engine and to the registry client.
func (s *Server) Keychain(fallback authn.Keychain) authn.Keychain {
	if fallback == nil {
		fallback = authn.NewMultiKeychain()
	}
	return serverKeychain{host: normalHost(s.addr), auth: &authn.Basic{Username: s.user, Password: s.pass}, fallback: fallback}
}

// serverKeychain is Server.Keychain.
type serverKeychain struct {
	host     string
	auth     authn.Authenticator
	fallback authn.Keychain
}

func (k serverKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), res)
}

func (k serverKeychain) ResolveContext(ctx context.Context, res authn.Resource) (authn.Authenticator, error) {
	if normalHost(res.RegistryStr()) == k.host {
		return k.auth, nil
	}
	return authn.Resolve(ctx, k.fallback, res)
}
