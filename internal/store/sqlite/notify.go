package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.NotifyStore = (*Store)(nil)

// SwapNotifyState stores next as the project's notify state and returns the
// one it replaces, in one transaction; a state set by a newer build is kept
// (stale true).
func (s *Store) SwapNotifyState(ctx context.Context, next pipeline.NotifyState) (pipeline.NotifyState, bool, error) {
	prev := pipeline.NotifyState{Project: next.Project}
	stale := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var updated sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT health, build_id, updated FROM notify_state WHERE project = ?`,
			next.Project).Scan(&prev.Health, &prev.BuildID, &updated)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			prev.Updated = fromNanos(updated)
		}
		if prev.BuildID > next.BuildID {
			stale = true
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO notify_state (project, health, build_id, updated)
			VALUES (?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET
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
		res, err := s.db.ExecContext(ctx, `INSERT INTO notifications (build_id, project, event,
			channel, recipient, status, attempts, last_error, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.BuildID, r.Project, r.Event, r.Channel, r.Recipient, r.Status, r.Attempts,
			r.LastError, nanos(r.Created), nanos(r.Updated))
		if err != nil {
			return fmt.Errorf("recording a notification of build %d: %w", r.BuildID, err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("recording a notification of build %d: %w", r.BuildID, err)
		}
		return nil
	}
	res, err := s.db.ExecContext(ctx, `UPDATE notifications SET build_id = ?, project = ?,
		event = ?, channel = ?, recipient = ?, status = ?, attempts = ?, last_error = ?,
		created = ?, updated = ? WHERE id = ?`,
		r.BuildID, r.Project, r.Event, r.Channel, r.Recipient, r.Status, r.Attempts,
		r.LastError, nanos(r.Created), nanos(r.Updated), r.ID)
	if err != nil {
		return fmt.Errorf("updating notification %d: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("updating notification %d: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("updating notification %d: %w", r.ID, pipeline.ErrNotFound)
	}
	return nil
}

// Notifications lists a build's notification records, oldest first.
func (s *Store) Notifications(ctx context.Context, buildID int64) ([]pipeline.NotificationRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, build_id, project, event, channel,
		recipient, status, attempts, last_error, created, updated
		FROM notifications WHERE build_id = ? ORDER BY id`, buildID)
	if err != nil {
		return nil, fmt.Errorf("listing notifications of build %d: %w", buildID, err)
	}
	defer rows.Close()
	var out []pipeline.NotificationRecord
	for rows.Next() {
		var r pipeline.NotificationRecord
		var created, updated sql.NullInt64
		if err := rows.Scan(&r.ID, &r.BuildID, &r.Project, &r.Event, &r.Channel, &r.Recipient,
			&r.Status, &r.Attempts, &r.LastError, &created, &updated); err != nil {
			return nil, fmt.Errorf("listing notifications of build %d: %w", buildID, err)
		}
		r.Created, r.Updated = fromNanos(created), fromNanos(updated)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing notifications of build %d: %w", buildID, err)
	}
	return out, nil
}
