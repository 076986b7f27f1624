package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
)

func sampleNotification() pipeline.Notification {
	b := pipeline.Build{ID: 7, Project: "centos/httpd:2.4", Number: 3, Status: pipeline.StatusFailed,
		Cause: "parent centos/centos:7 rebuilt (sha256:aa)", Commit: "abc123", FailedStage: pipeline.StageTest,
		Reason: "check starts failed", Digest: ""}
	return pipeline.Notification{Event: pipeline.NotifyFailed, Build: b,
		Project: pipeline.Project{AppID: "centos", JobID: "httpd", Tag: "2.4"},
		URL:     "http://h:8080/p/centos/httpd:2.4/builds/3"}
}

// receiver records the bodies POSTed to it and answers with status.
func receiver(t *testing.T, status int) (*httptest.Server, *[]map[string]any) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		body, _ := io.ReadAll(r.Body)
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("the body is not JSON: %v: %s", err, body)
		}
		got = append(got, v)
		w.WriteHeader(status)
		io.WriteString(w, "nope")
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestWebhookPayload(t *testing.T) {
	srv, got := receiver(t, http.StatusNoContent)
	w, err := NewWebhook(srv.URL+"/hook/secret-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := sampleNotification()
	if err := w.Send(t.Context(), n, w.Recipients(n)[0]); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := map[string]any{"event": "failed", "project": "centos/httpd:2.4", "build": map[string]any{
		"id": 7.0, "number": 3.0, "status": "failed", "cause": "parent centos/centos:7 rebuilt (sha256:aa)",
		"commit": "abc123", "failed_stage": "test", "reason": "check starts failed",
		"url": "http://h:8080/p/centos/httpd:2.4/builds/3", "digest": ""}}
	if len(*got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(*got))
	}
	if d := cmp.Diff(want, (*got)[0]); d != "" {
		t.Errorf("payload (-want +got):\n%s", d)
	}
	if r := w.Recipients(n)[0]; strings.Contains(r, "secret-token") || !strings.HasPrefix(r, srv.URL+"/… (#") {
		t.Errorf("recorded recipient %q: want the URL without its path", r)
	}
	if w.Channel() != "webhook" {
		t.Errorf("Channel %q", w.Channel())
	}
}

func TestSlackPayload(t *testing.T) {
	srv, got := receiver(t, http.StatusOK)
	w, err := NewSlack(srv.URL+"/services/T0/B0/XXXX", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := sampleNotification()
	if err := w.Send(t.Context(), n, ""); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msg := (*got)[0]
	if msg["text"] != "[hoist] FAILED: centos/httpd:2.4 (test)" {
		t.Errorf("text %q", msg["text"])
	}
	blocks, ok := msg["blocks"].([]any)
	if !ok || len(blocks) != 3 {
		t.Fatalf("blocks %#v, want 3", msg["blocks"])
	}
	for i, b := range blocks {
		block := b.(map[string]any)
		text, _ := block["text"].(map[string]any)
		if block["type"] == nil || text["type"] == nil || text["text"] == "" {
			t.Errorf("block %d is not a Slack block with text: %#v", i, b)
		}
	}
	section := blocks[1].(map[string]any)["text"].(map[string]any)["text"].(string)
	if !strings.Contains(section, "Reason: check starts failed") || !strings.Contains(section, "Cause:  parent centos/centos:7") {
		t.Errorf("section %q", section)
	}
	link := blocks[2].(map[string]any)["text"].(map[string]any)["text"]
	if link != "<http://h:8080/p/centos/httpd:2.4/builds/3|Open build #3>" {
		t.Errorf("link %q", link)
	}
	if w.Channel() != "slack" {
		t.Errorf("Channel %q", w.Channel())
	}
}

func TestWebhookErrors(t *testing.T) {
	srv, _ := receiver(t, http.StatusBadGateway)
	w, _ := NewWebhook(srv.URL+"/x?token=abc", nil)
	err := w.Send(t.Context(), sampleNotification(), "")
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway: nope") || strings.Contains(err.Error(), "token=abc") {
		t.Errorf("Send to a failing receiver = %v", err)
	}
	for _, bad := range []string{"ftp://h/x", "not a url", "http://"} {
		if _, err := NewWebhook(bad, nil); err == nil {
			t.Errorf("NewWebhook(%q) accepted it", bad)
		}
	}
}
