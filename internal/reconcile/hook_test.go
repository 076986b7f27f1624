package reconcile

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := Sign([]byte("s3cret"), body)
	tests := []struct {
		name, sig string
		ok        bool
	}{
		{"good", good, true},
		{"missing", "", false},
		{"no prefix", strings.TrimPrefix(good, "sha256="), false},
		{"other secret", Sign([]byte("other"), body), false},
		{"other body", Sign([]byte("s3cret"), []byte("{}")), false},
		{"upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), false},
	}
	for _, tc := range tests {
		if err := verify("s3cret", tc.sig, body); (err == nil) != tc.ok {
			t.Errorf("%s: verify = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestHookWithoutSecret(t *testing.T) {
	tr := New(nil, nil, nil, Options{})
	rec := httptest.NewRecorder()
	body := `{}`
	req := httptest.NewRequest(http.MethodPost, "/hooks/index", strings.NewReader(body))
	req.Header.Set(SignatureHeader, Sign(nil, []byte(body)))
	tr.HookHandler("")(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "--webhook-secret") {
		t.Errorf("no secret: %d %s, want 503 naming --webhook-secret", rec.Code, rec.Body)
	}
	select {
	case <-tr.poke:
		t.Error("a hook refused for want of a secret poked the tracker")
	default:
	}
}
