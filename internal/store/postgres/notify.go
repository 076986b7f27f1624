package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// SwapNotifyState stores next as the project's notify state and returns the
// one it replaces, in one transaction holding the project's notify lock; a
// state set by a newer build is kept (stale true).
func (s *Store) SwapNotifyState(ctx context.Context, next pipeline.NotifyState) (pipeline.NotifyState, bool, error) {
	prev := pipeline.NotifyState{Project: next.Project}
	stale := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, lockNotify, next.Project); err != nil {
			return err
		}
		var updated *int64
		err := tx.QueryRow(ctx, `SELECT health, build_id, updated FROM notify_state WHERE project = $1`,
			next.Project).Scan(&prev.Health, &prev.BuildID, &updated)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			prev.Updated = fromNanos(updated)
		}
		if prev.BuildID > next.BuildID {
			stale = true
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO notify_state (project, health, build_id, updated)
			VALUES ($1, $2, $3, $4) ON CONFLICT (project) DO UPDATE SET
			health = excluded.health, build_id = excluded.build_id, updated = excluded.updated`,
			next.Project, next.Health, next.BuildID, nanos(next.Updated))
		return err
	})
	if err != nil {
		return prev, false, fmt.Errorf("storing the notify state of %s: %w", next.Project, err)
	}
	return prev, stale, nil
}

// PutNotification inserts r (r.ID 0, which it sets) or replaces the record
// with r.ID.
func (s *Store) PutNotification(ctx context.Context, r *pipeline.NotificationRecord) error {
	if r.ID == 0 {
		err := s.pool.QueryRow(ctx, `INSERT INTO notifications (build_id, project, event,
			channel, recipient, status, attempts, last_error, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			r.BuildID, r.Project, r.Event, r.Channel, r.Recipient, r.Status, r.Attempts,
			[]byte(r.LastError), nanos(r.Created), nanos(r.Updated)).Scan(&r.ID)
		if err != nil {
			return fmt.Errorf("recording a notification of build %d: %w", r.BuildID, err)
		}
		return nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE notifications SET build_id = $1, project = $2,
		event = $3, channel = $4, recipient = $5, status = $6, attempts = $7, last_error = $8,
		created = $9, updated = $10 WHERE id = $11`,
		r.BuildID, r.Project, r.Event, r.Channel, r.Recipient, r.Status, r.Attempts,
		[]byte(r.LastError), nanos(r.Created), nanos(r.Updated), r.ID)
	return affected(tag, err, fmt.Sprintf("updating notification %d", r.ID))
}

// Notifications lists a build's notification records, oldest first.
func (s *Store) Notifications(ctx context.Context, buildID int64) ([]pipeline.NotificationRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, build_id, project, event, channel,
		recipient, status, attempts, last_error, created, updated
		FROM notifications WHERE build_id = $1 ORDER BY id`, buildID)
	if err != nil {
		return nil, fmt.Errorf("listing notifications of build %d: %w", buildID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pipeline.NotificationRecord, error) {
		var r pipeline.NotificationRecord
		var created, updated *int64
		var lastErr []byte
		err := row.Scan(&r.ID, &r.BuildID, &r.Project, &r.Event, &r.Channel, &r.Recipient,
			&r.Status, &r.Attempts, &lastErr, &created, &updated)
		r.Created, r.Updated, r.LastError = fromNanos(created), fromNanos(updated), string(lastErr)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing notifications of build %d: %w", buildID, err)
	}
	return out, nil
}
