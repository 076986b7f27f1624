package reconcile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// SignatureHeader carries the HMAC-SHA256 of a webhook's body, keyed with
// the webhook secret: "sha256=<hex>".
const SignatureHeader = "X-Hoist-Signature"

// maxHookBody is the most of a webhook body that is read.
const maxHookBody = 1 << 20

// Sign is the SignatureHeader value of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// HookHandler serves POST /hooks/index: a request signed with secret pokes
// the tracker (202); a missing or bad signature is a 401 and pokes nothing;
// with no secret set, webhooks are off (503). Answers are JSON
// {"message": …}.
func (t *Tracker) HookHandler(secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if secret == "" {
			answer(w, http.StatusServiceUnavailable, "webhooks are off: no secret is set; start hoist serve with --webhook-secret SECRET (or HOIST_WEBHOOK_SECRET)")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxHookBody))
		if err != nil {
			answer(w, http.StatusBadRequest, "reading the webhook body: "+err.Error())
			return
		}
		if err := verify(secret, r.Header.Get(SignatureHeader), body); err != nil {
			t.opts.Logger.Warn("index webhook refused", "remote", r.RemoteAddr, "err", err)
			answer(w, http.StatusUnauthorized, err.Error())
			return
		}
		t.Poke()
		answer(w, http.StatusAccepted, "index reconcile queued")
	}
}

// answer writes {"message": msg} with status.
func answer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// verify checks sig against body's HMAC under secret.
func verify(secret, sig string, body []byte) error {
	if !strings.HasPrefix(sig, "sha256=") {
		return fmt.Errorf("missing or malformed %s header: want sha256=<hex HMAC-SHA256 of the body>", SignatureHeader)
	}
	if !hmac.Equal([]byte(sig), []byte(Sign([]byte(secret), body))) {
		return fmt.Errorf("bad %s: the body is not signed with the webhook secret", SignatureHeader)
	}
	return nil
}
