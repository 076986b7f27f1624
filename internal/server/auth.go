package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// ErrBadLogin is returned by login for an unknown user or a wrong password;
// it does not say which.
var ErrBadLogin = errors.New("wrong user name or password")

const (
	sessionCookie = "hoist_session"
	sessionTTL    = 14 * 24 * time.Hour
	bcryptCost    = bcrypt.DefaultCost
)

// dummyHash is compared against when a login names no user, so that an
// unknown name takes as long to refuse as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("hoist: no such user"), bcryptCost)
	return h
})

// HashPassword returns a bcrypt hash of pw, to store instead of it.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw is the password hash was made from.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// secretPrefix starts every secret, so that one never begins with "-" (a
// command line would read it as a flag: "hoist token revoke -x…") and
// secret scanners can recognise a leaked Hoist token.
const secretPrefix = "hoist_"

// NewSecret returns a new random secret for an API token or a session
// ("hoist_" and 32 bytes, URL-safe base64) and the hash to store instead
// of it.
func NewSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("making secret: %w", err)
	}
	secret = secretPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret), nil
}

// HashSecret is the hex SHA-256 of a token or session secret, as stored.
// Secrets are random and long, so a fast hash is enough.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// userKey keys the authenticated user in a request's context.
type userKey struct{}

// authn is who a request comes from and how they proved it.
type authn struct {
	user      pipeline.User
	ok        bool
	viaCookie bool   // a session cookie, so unsafe requests need CSRF
	session   string // the session secret, for the CSRF token
	badToken  bool   // an Authorization header that names no valid token
}

// authenticate finds the request's user: an Authorization: Bearer token
// first, else the session cookie. Stored credentials are looked up once
// per request and remembered in its context by needWriter.
func (s *Server) authenticate(r *http.Request) authn {
	if a, ok := r.Context().Value(userKey{}).(authn); ok {
		return a
	}
	now := time.Now()
	if h := r.Header.Get("Authorization"); h != "" {
		secret, found := strings.CutPrefix(h, "Bearer ")
		u, ok := s.userFor(r.Context(), pipeline.CredentialToken, strings.TrimSpace(secret), now)
		return authn{user: u, ok: found && ok, badToken: !found || !ok}
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return authn{}
	}
	u, ok := s.userFor(r.Context(), pipeline.CredentialSession, c.Value, now)
	return authn{user: u, ok: ok, viaCookie: ok, session: c.Value}
}

// userFor returns the user a credential secret of kind belongs to.
func (s *Server) userFor(ctx context.Context, kind pipeline.CredentialKind, secret string, now time.Time) (pipeline.User, bool) {
	if secret == "" {
		return pipeline.User{}, false
	}
	c, err := s.deps.Store.Credential(ctx, kind, HashSecret(secret), now)
	if err != nil {
		if !errors.Is(err, pipeline.ErrNotFound) {
			s.deps.Logger.Error("looking up credential", "kind", kind, "err", err)
		}
		return pipeline.User{}, false
	}
	u, err := s.deps.Store.UserByID(ctx, c.UserID)
	if err != nil {
		return pipeline.User{}, false
	}
	return u, true
}

// currentUser returns the user the request is authenticated as, by session
// cookie or by Authorization: Bearer token.
func (s *Server) currentUser(r *http.Request) (pipeline.User, bool) {
	a := s.authenticate(r)
	return a.user, a.ok
}

// TooManyLoginsError is returned by login while the client's address or
// the user name is locked after failed logins; After is how long it stays so.
type TooManyLoginsError struct{ After time.Duration }

func (e *TooManyLoginsError) Error() string {
	return fmt.Sprintf("too many failed sign-ins: try again in %s", e.After.Round(time.Second))
}

// login checks name and password and, when they match, starts a session:
// the cookie hoist_session, HttpOnly, SameSite=Lax, for 14 days. A wrong
// name or password returns ErrBadLogin (and is logged); too many of them
// from one address or for one name, a *TooManyLoginsError.
func (s *Server) login(w http.ResponseWriter, r *http.Request, name, password string) error {
	addr := clientAddr(r)
	if d := s.logins.try(addr, name); d > 0 {
		s.deps.Logger.Warn("sign-in refused: too many failures", "user", name, "remote", addr, "retry_after", d.Round(time.Second))
		return &TooManyLoginsError{After: d}
	}
	u, err := s.checkLogin(r.Context(), name, password)
	if err != nil {
		if errors.Is(err, ErrBadLogin) {
			s.deps.Logger.Warn("sign-in failed", "user", name, "remote", addr)
		}
		return err
	}
	s.logins.succeeded(addr, name)
	return s.startSession(w, r, u)
}

// checkLogin returns the user when name and password match, else
// ErrBadLogin (or the store's error).
func (s *Server) checkLogin(ctx context.Context, name, password string) (pipeline.User, error) {
	u, err := s.deps.Store.UserByName(ctx, name)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return u, ErrBadLogin
	case err != nil:
		return u, fmt.Errorf("finding user %q: %w", name, err)
	case !CheckPassword(u.PasswordHash, password):
		return u, ErrBadLogin
	}
	return u, nil
}

// startSession starts a session of u and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u pipeline.User) error {
	ctx := r.Context()
	secret, hash, err := NewSecret()
	if err != nil {
		return err
	}
	now := time.Now()
	c := pipeline.Credential{Kind: pipeline.CredentialSession, Hash: hash, UserID: u.ID, Created: now, Expires: now.Add(sessionTTL)}
	if err := s.deps.Store.PutCredential(ctx, c); err != nil {
		return fmt.Errorf("starting session: %w", err)
	}
	http.SetCookie(w, s.cookie(sessionCookie, secret, sessionTTL))
	return nil
}

// logout ends the request's session, if any, and clears its cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.deps.Store.DeleteCredential(r.Context(), pipeline.CredentialSession, HashSecret(c.Value)); err != nil {
			s.deps.Logger.Error("ending session", "err", err)
		}
	}
	http.SetCookie(w, s.cookie(sessionCookie, "", -1))
}

// cookie makes a cookie for the whole site; ttl < 0 deletes it.
func (s *Server) cookie(name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.opts.SecureCookies}
	if ttl < 0 {
		c.MaxAge = -1
	} else if ttl > 0 {
		c.MaxAge = int(ttl / time.Second)
	}
	return c
}
