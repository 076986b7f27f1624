package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.WebhookLog = (*Store)(nil)

// NoteWebhook records a webhook for repo at at, keeping the later time.
func (s *Store) NoteWebhook(ctx context.Context, repo string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO webhooks (repo, at) VALUES ($1, $2)
		ON CONFLICT (repo) DO UPDATE SET at = GREATEST(webhooks.at, EXCLUDED.at)`, repo, at.UnixNano()); err != nil {
		return fmt.Errorf("recording a webhook for %s: %w", pipeline.RedactURL(repo), err)
	}
	return nil
}

// LastWebhook returns when the last webhook for repo arrived.
func (s *Store) LastWebhook(ctx context.Context, repo string) (time.Time, error) {
	var at *int64
	err := s.pool.QueryRow(ctx, `SELECT at FROM webhooks WHERE repo = $1`, repo).Scan(&at)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("reading the last webhook for %s: %w", pipeline.RedactURL(repo), err)
	}
	return fromNanos(at), nil
}
