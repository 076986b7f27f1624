package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// maxHookBody is the largest webhook body read (413 above it); GitHub
// caps its own at 25 MB, but a push payload that large lists thousands of
// commits Hoist does not need.
const maxHookBody = 5 << 20

// Pusher turns a pushed commit into builds of every project on that
// repository and branch, once per commit; sched.Pushes is one.
type Pusher interface {
	Push(ctx context.Context, p pipeline.Push) ([]pipeline.PushedBuild, error)
}

// WebhookSecrets are the secrets webhook deliveries are checked with: Shared
// for every provider, unless the provider has its own.
type WebhookSecrets struct {
	Shared, GitHub, GitLab, Gitea, Generic string
}

// secret returns the secret of provider.
func (ws WebhookSecrets) secret(provider string) string {
	own := map[string]string{"github": ws.GitHub, "gitlab": ws.GitLab, "gitea": ws.Gitea, "generic": ws.Generic}[provider]
	if own != "" {
		return own
	}
	return ws.Shared
}

// hook is one provider's webhook: how a delivery is authenticated, and how
// its event and payload are read.
type hook struct {
	provider string
	// admit reports, from the headers alone, whether the delivery may be
	// authentic: a token is checked in full, a signature only for its
	// form. Nothing of the body is read before.
	admit func(r *http.Request, secret string) bool
	// verify reports whether the delivery carries a valid signature or
	// token for secret.
	verify func(r *http.Request, body []byte, secret string) bool
	// parse reads the delivery: a push, or ping/other events (push nil)
	// with the message to answer.
	parse func(r *http.Request, body []byte) (push *pipeline.Push, status int, msg string, err error)
}

// hookRoutes lists the webhook routes, served outside /api/v1 at the paths
// the providers are given; openapi.json describes them too.
func (s *Server) hookRoutes() []apiRoute {
	return []apiRoute{
		{"POST /hooks/github", s.serveHook(githubHook)},
		{"POST /hooks/gitlab", s.serveHook(gitlabHook)},
		{"POST /hooks/gitea", s.serveHook(giteaHook)},
		{"POST /hooks/generic", s.serveHook(genericHook)},
	}
}

// hookAnswer is the body of every webhook answer.
type hookAnswer struct {
	Message string      `json:"message"`
	Builds  []hookBuild `json:"builds,omitempty"`
}

// hookBuild is what a delivery did to one project.
type hookBuild struct {
	Project string `json:"project"`
	Number  int    `json:"number"`
	Outcome string `json:"outcome"` // queued, joined or duplicate
	URL     string `json:"url"`
}

// serveHook serves one provider's webhook: a missing secret is a 503, a bad
// signature a 401 (nothing is queued), a push to a tracked branch queues
// its builds (202).
func (s *Server) serveHook(h hook) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := s.opts.Webhooks.secret(h.provider)
		if secret == "" || s.deps.Pushes == nil {
			writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: fmt.Sprintf(
				"webhooks are off: no secret is set; start hoist serve with --webhook-secret SECRET (or HOIST_WEBHOOK_SECRET) and give the %s webhook the same secret", h.provider)})
			return
		}
		refuse := func() {
			s.deps.Logger.Warn("webhook refused: bad or missing signature", "provider", h.provider, "remote", r.RemoteAddr)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: fmt.Sprintf(
				"the %s webhook's signature or token is missing or does not match this server's webhook secret", h.provider)})
		}
		if !h.admit(r, secret) {
			refuse()
			return
		}
		tooBig := &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBadRequest,
			Message: fmt.Sprintf("the webhook body is over %d MB", maxHookBody>>20)}
		if r.ContentLength > maxHookBody {
			writeError(w, tooBig)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			writeError(w, tooBig)
			return
		}
		if err != nil {
			writeError(w, badRequest("reading the webhook body: %v", err))
			return
		}
		if !h.verify(r, body, secret) {
			refuse()
			return
		}
		push, status, msg, err := h.parse(r, body)
		if err != nil {
			writeError(w, badRequest("%s webhook: %v", h.provider, err))
			return
		}
		if push == nil {
			writeJSON(w, status, hookAnswer{Message: msg})
			return
		}
		s.push(w, r, *push)
	}
}

// push queues the builds of a verified push and answers 202.
func (s *Server) push(w http.ResponseWriter, r *http.Request, p pipeline.Push) {
	pushed, err := s.deps.Pushes.Push(r.Context(), p)
	if err != nil {
		s.deps.Logger.Error("webhook: queueing builds", "provider", p.Via, "repo", p.Repo, "err", err)
		writeError(w, err)
		return
	}
	branch := strings.TrimPrefix(p.Branch, "refs/heads/")
	if len(pushed) == 0 {
		writeJSON(w, http.StatusAccepted, hookAnswer{Message: fmt.Sprintf(
			"nothing to build: no project tracks branch %s of %s", branch, p.Repo)})
		return
	}
	ans := hookAnswer{}
	queued := 0
	for _, b := range pushed {
		if b.Outcome != pipeline.EnqueueDuplicate {
			queued++
		}
		ans.Builds = append(ans.Builds, hookBuild{Project: b.Project, Number: b.Build.Number,
			Outcome: string(b.Outcome), URL: buildURL(b.Build)})
	}
	ans.Message = fmt.Sprintf("%s: %d projects queued, %d already building or built this commit",
		pipeline.PushCause(p.Commit, branch), queued, len(pushed)-queued)
	writeJSON(w, http.StatusAccepted, ans)
}

// validHMAC reports whether sig (hex, with an optional "sha256=" prefix)
// is the HMAC-SHA256 of body under secret.
func validHMAC(sig string, body []byte, secret string) bool {
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(sig), "sha256="))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// hmacHeader returns an admit function that passes a delivery whose
// header (the first of names that is set) has the form of an HMAC-SHA256
// signature: 64 hex digits, after the "sha256=" prefix when prefix.
func hmacHeader(prefix bool, names ...string) func(r *http.Request, _ string) bool {
	return func(r *http.Request, _ string) bool {
		for _, name := range names {
			sig := strings.TrimSpace(r.Header.Get(name))
			if sig == "" {
				continue
			}
			hexSig, found := strings.CutPrefix(sig, "sha256=")
			if prefix && !found {
				return false
			}
			b, err := hex.DecodeString(hexSig)
			return err == nil && len(b) == sha256.Size
		}
		return false
	}
}

// sameToken compares a token to the secret in constant time.
func sameToken(token, secret string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
}
