package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Payload is the JSON a webhook receives.
type Payload struct {
	Event   pipeline.NotifyEvent `json:"event"`
	Project string               `json:"project"`
	Build   PayloadBuild         `json:"build"`
}

// PayloadBuild is the build in a Payload.
type PayloadBuild struct {
	ID          int64              `json:"id"`
	Number      int                `json:"number"`
	Status      pipeline.Status    `json:"status"`
	Cause       string             `json:"cause"`
	Commit      string             `json:"commit"`
	FailedStage pipeline.StageName `json:"failed_stage"`
	Reason      string             `json:"reason"`
	URL         string             `json:"url"`
	Digest      string             `json:"digest"`
}

// Webhook POSTs every notification to one URL, as a Payload or, for Slack,
// as a Slack message.
type Webhook struct {
	url    string
	slack  bool
	client *http.Client
}

var _ pipeline.Notifier = (*Webhook)(nil)

// NewWebhook returns a notifier POSTing a Payload to rawURL. client nil is
// http.DefaultClient.
func NewWebhook(rawURL string, client *http.Client) (*Webhook, error) {
	return newWebhook(rawURL, false, client)
}

// NewSlack returns a notifier POSTing a Slack-compatible message
// ({"text", "blocks"}) to rawURL, an incoming-webhook URL.
func NewSlack(rawURL string, client *http.Client) (*Webhook, error) {
	return newWebhook(rawURL, true, client)
}

func newWebhook(rawURL string, slack bool, client *http.Client) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook URL %q: want http(s)://host/path", rawURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Webhook{url: rawURL, slack: slack, client: client}, nil
}

// Channel is "slack" or "webhook".
func (w *Webhook) Channel() string {
	if w.slack {
		return "slack"
	}
	return "webhook"
}

// Recipients is the URL as it may be recorded: its path, query and
// credentials (where webhook secrets live) are replaced by a short hash.
func (w *Webhook) Recipients(pipeline.Notification) []string { return []string{redact(w.url)} }

// redact keeps the scheme and host of rawURL and a hash of the rest.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "webhook"
	}
	sum := sha256.Sum256([]byte(rawURL))
	return fmt.Sprintf("%s://%s/… (#%s)", u.Scheme, u.Host, hex.EncodeToString(sum[:3]))
}

// Send POSTs n once; any status but 2xx is an error.
func (w *Webhook) Send(ctx context.Context, n pipeline.Notification, _ string) error {
	var body any = NewPayload(n)
	if w.slack {
		body = SlackMessage(n)
	}
	js, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(js))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hoist")
	resp, err := w.client.Do(req)
	if err != nil {
		// The error names the URL, which may hold a secret.
		return fmt.Errorf("posting to %s: %s", redact(w.url), strings.ReplaceAll(err.Error(), w.url, redact(w.url)))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("posting to %s: %s: %s", redact(w.url), resp.Status, strings.TrimSpace(string(msg)))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// NewPayload is n as a webhook receives it.
func NewPayload(n pipeline.Notification) Payload {
	b := n.Build
	return Payload{Event: n.Event, Project: n.Project.Key(), Build: PayloadBuild{
		ID: b.ID, Number: b.Number, Status: b.Status, Cause: b.Cause, Commit: b.Commit,
		FailedStage: b.FailedStage, Reason: b.Reason, URL: n.URL, Digest: b.Digest}}
}

// SlackMessage is n as a Slack incoming webhook takes it: the subject as
// the fallback text, and blocks with the summary and a link.
func SlackMessage(n pipeline.Notification) map[string]any {
	text := func(s string) map[string]any { return map[string]any{"type": "mrkdwn", "text": s} }
	return map[string]any{
		"text": Subject(n),
		"blocks": []any{
			map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": Subject(n)}},
			map[string]any{"type": "section", "text": text("```" + strings.TrimSpace(summary(n)) + "```")},
			map[string]any{"type": "section", "text": text(fmt.Sprintf("<%s|Open build #%d>", n.URL, n.Build.Number))},
		},
	}
}
