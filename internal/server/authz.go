package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

const (
	csrfField  = "csrf"         // the hidden form field
	csrfHeader = "X-CSRF-Token" // the header, for scripts and htmx
	csrfCookie = "hoist_csrf"   // the double-submit cookie of anonymous forms (login)
)

// minAnonCSRF is the shortest double-submit cookie accepted: one this
// server made is much longer (NewSecret).
const minAnonCSRF = 32

// csrfToken returns the value for the hidden form field "csrf". For a
// signed-in user it is bound to the session: a hash of the session secret,
// which no other site can read. For anyone else (the login form) it is a
// random value also set as the cookie hoist_csrf (double submit). Either
// way the value is masked afresh on every call (maskCSRF), so that a
// compressed page never repeats the secret itself (BREACH).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if a := s.authenticate(r); a.viaCookie {
		return maskCSRF(sessionCSRF(a.session))
	}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= minAnonCSRF {
		return maskCSRF(c.Value)
	}
	secret, _, err := NewSecret()
	if err != nil {
		s.deps.Logger.Error("making csrf token", "err", err)
		return ""
	}
	http.SetCookie(w, s.cookie(csrfCookie, secret, 0))
	// Later calls during this request see the same value.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: secret})
	return maskCSRF(secret)
}

// maskCSRF returns token XORed with a fresh random pad, as hex of the pad
// and then of the result. Pages are served gzipped; with the token itself
// in every page, an attacker who can add text to a page and watch its
// compressed length could guess it byte by byte (BREACH). Masked, its
// bytes differ on every page, and unmaskCSRF gives the token back.
func maskCSRF(token string) string {
	pad := make([]byte, len(token))
	if _, err := rand.Read(pad); err != nil {
		return token // crypto/rand does not fail on Linux; unmasked still works
	}
	x := make([]byte, len(token))
	for i := range x {
		x[i] = token[i] ^ pad[i]
	}
	return hex.EncodeToString(pad) + hex.EncodeToString(x)
}

// unmaskCSRF undoes maskCSRF; ok is false when v is not a masked value.
func unmaskCSRF(v string) (token string, ok bool) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) == 0 || len(b)%2 != 0 {
		return "", false
	}
	n := len(b) / 2
	out := make([]byte, n)
	for i := range out {
		out[i] = b[i] ^ b[n+i]
	}
	return string(out), true
}

// sessionCSRF derives a session's CSRF token from its secret.
func sessionCSRF(session string) string {
	sum := sha256.Sum256([]byte("hoist csrf\x00" + session))
	return hex.EncodeToString(sum[:])
}

// checkCSRF reports whether r carries the CSRF token csrfToken gave out,
// masked or not, in the header X-CSRF-Token or the form field "csrf".
func (s *Server) checkCSRF(r *http.Request) bool {
	want := ""
	if a := s.authenticate(r); a.viaCookie {
		want = sessionCSRF(a.session)
	} else if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= minAnonCSRF {
		want = c.Value
	}
	got := r.Header.Get(csrfHeader)
	if got == "" && isForm(r) {
		got = r.PostFormValue(csrfField)
	}
	if want == "" {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		return true
	}
	unmasked, ok := unmaskCSRF(got)
	return ok && subtle.ConstantTimeCompare([]byte(unmasked), []byte(want)) == 1
}

func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}

// safeMethod reports whether m only reads.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// mayRead reports whether r may see projects, builds and logs: anyone when
// reading is public, else only a signed-in user.
func (s *Server) mayRead(r *http.Request) bool {
	if s.opts.PublicRead {
		return true
	}
	_, ok := s.currentUser(r)
	return ok
}

// badTokenMsg answers a request whose bearer token is unknown or expired.
const badTokenMsg = "the API token is not valid (expired or revoked?); send Authorization: Bearer <token>"

// needWriter lets h run only for a signed-in user or a valid API token.
// Anonymous requests get 401 and change nothing. A request authenticated by
// the session cookie that is not a GET needs the CSRF token (form field
// "csrf" or header X-CSRF-Token), else 403; token requests need none.
func (s *Server) needWriter(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := s.authenticate(r)
		switch {
		case a.badToken:
			s.refuse(w, r, http.StatusUnauthorized, badTokenMsg)
			return
		case !a.ok:
			s.refuse(w, r, http.StatusUnauthorized, "sign in or send an API token (Authorization: Bearer <token>) to do this")
			return
		}
		r = withScope(r.WithContext(context.WithValue(r.Context(), userKey{}, a)), a)
		if a.viaCookie && !safeMethod(r.Method) && !s.checkCSRF(r) {
			s.refuse(w, r, http.StatusForbidden, "missing or wrong CSRF token; reload the page and try again")
			return
		}
		h(w, r)
	}
}

// needReader lets h run only for requests that may read (see mayRead),
// with the read scope of the request's user (readers.go).
func (s *Server) needReader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := s.authenticate(r)
		switch {
		case a.badToken:
			s.refuse(w, r, http.StatusUnauthorized, badTokenMsg)
			return
		case !a.ok && !s.opts.PublicRead:
			s.refuse(w, r, http.StatusUnauthorized, "sign in or send an API token (Authorization: Bearer <token>) to read this")
			return
		}
		h(w, withScope(r.WithContext(context.WithValue(r.Context(), userKey{}, a)), a))
	}
}

// refuse answers with status and msg: JSON under /api/, else the UI's page.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, &apiError{Status: status, Code: codeFor(status), Message: msg})
		return
	}
	s.webError(w, r, status, msg)
}

// userOf is the user needWriter let through.
func userOf(r *http.Request) pipeline.User {
	a, _ := r.Context().Value(userKey{}).(authn)
	return a.user
}
