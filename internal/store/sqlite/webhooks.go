package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.WebhookLog = (*Store)(nil)

// NoteWebhook records a webhook for repo at at, keeping the later time.
func (s *Store) NoteWebhook(ctx context.Context, repo string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO webhooks (repo, at) VALUES (?, ?)
		ON CONFLICT (repo) DO UPDATE SET at = max(at, excluded.at)`, repo, at.UnixNano()); err != nil {
		return fmt.Errorf("recording a webhook for %s: %w", pipeline.RedactURL(repo), err)
	}
	return nil
}

// LastWebhook returns when the last webhook for repo arrived.
func (s *Store) LastWebhook(ctx context.Context, repo string) (time.Time, error) {
	var at sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT at FROM webhooks WHERE repo = ?`, repo).Scan(&at)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("reading the last webhook for %s: %w", pipeline.RedactURL(repo), err)
	}
	return fromNanos(at), nil
}
