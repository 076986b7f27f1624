package pipeline

import (
	"context"
	"time"
)

// WebhookLog remembers when a webhook last reached each repository, so
// that the poller, on whichever server runs it, leaves out the
// repositories webhooks keep up to date, whichever server they reached.
// Safe for concurrent use by several processes sharing the store.
type WebhookLog interface {
	// NoteWebhook records that a webhook for repo (as NormalizeRepoURL
	// spells it) arrived at at; an earlier time than the one recorded is
	// ignored.
	NoteWebhook(ctx context.Context, repo string, at time.Time) error
	// LastWebhook returns when the last webhook for repo arrived, the zero
	// time when none did.
	LastWebhook(ctx context.Context, repo string) (time.Time, error)
}
