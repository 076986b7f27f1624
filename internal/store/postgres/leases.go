package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// RenewLease extends the lease on the running build with id and attempt to
// lease.Until if lease.Holder holds it; otherwise pipeline.ErrLeaseLost.
func (s *Store) RenewLease(ctx context.Context, id int64, attempt int, lease pipeline.Lease) error {
	tag, err := s.pool.Exec(ctx, `UPDATE builds SET lease_until = $1
		WHERE id = $2 AND attempt = $3 AND status = $4 AND lease_holder = $5 AND lease_until IS NOT NULL`,
		nanos(lease.Until), id, attempt, pipeline.StatusRunning, lease.Holder)
	if err != nil {
		return fmt.Errorf("renewing the lease on build %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("renewing the lease on build %d (attempt %d): %w", id, attempt, pipeline.ErrLeaseLost)
	}
	return nil
}

// expired is a running build whose lease expired.
type expired struct {
	id      int64
	attempt int
	holder  string
	until   *int64
}

// ExpireLeases queues again, or fails after retry.Attempts, the running
// builds whose lease expired before now, in one transaction. Their rows are
// locked SKIP LOCKED: a build another server is expiring at the same time
// is left to it.
func (s *Store) ExpireLeases(ctx context.Context, now time.Time, retry pipeline.Retry) ([]pipeline.Build, error) {
	var out []pipeline.Build
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		// Holds of ended builds whose dispatcher died before settling
		// them ran out with their leases.
		if _, err := tx.Exec(ctx, `UPDATE builds SET settled = TRUE WHERE NOT settled
			AND status NOT IN ($1, $2) AND COALESCE(lease_until, 0) < $3`,
			pipeline.StatusQueued, pipeline.StatusRunning, now.UnixNano()); err != nil {
			return err
		}
		es, err := expiredLeases(ctx, tx, now)
		if err != nil {
			return err
		}
		for _, e := range es {
			b, err := expire(ctx, tx, e, now, retry)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expiring leases: %w", err)
	}
	return out, nil
}

func expiredLeases(ctx context.Context, tx pgx.Tx, now time.Time) ([]expired, error) {
	rows, err := tx.Query(ctx, `SELECT id, attempt, lease_holder, lease_until FROM builds
		WHERE status = $1 AND lease_until < $2 ORDER BY id FOR NO KEY UPDATE SKIP LOCKED`,
		pipeline.StatusRunning, now.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []expired
	for rows.Next() {
		var e expired
		if err := rows.Scan(&e.id, &e.attempt, &e.holder, &e.until); err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// expire ends the lost attempt of e: queued again, or failed at the limit.
func expire(ctx context.Context, tx pgx.Tx, e expired, now time.Time, retry pipeline.Retry) (pipeline.Build, error) {
	until := fromNanos(e.until)
	if e.attempt >= max(retry.Attempts, 1) {
		reason := pipeline.LostRunner(e.attempt, e.holder, until)
		if err := failStages(ctx, tx, e.id, reason, now); err != nil {
			return pipeline.Build{}, err
		}
		if _, err := tx.Exec(ctx, `UPDATE builds SET status = $1, reason = $2, finished = $3,
			lease_until = NULL, lease_lost = TRUE, settled = TRUE WHERE id = $4`, pipeline.StatusFailed, []byte(reason), nanos(now), e.id); err != nil {
			return pipeline.Build{}, err
		}
	} else {
		if err := failStages(ctx, tx, e.id, pipeline.LostAttempt(e.attempt, e.holder, until), now); err != nil {
			return pipeline.Build{}, err
		}
		if _, err := tx.Exec(ctx, `UPDATE builds SET status = $1, attempt = attempt + 1,
			started = NULL, lease_holder = '', lease_until = NULL, not_before = $2, settled = TRUE WHERE id = $3`,
			pipeline.StatusQueued, nanos(now.Add(retry.Delay(e.attempt))), e.id); err != nil {
			return pipeline.Build{}, err
		}
	}
	return scanBuild(tx.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds WHERE id = $1`, e.id))
}

// failStages marks the running stages of build id failed with msg.
func failStages(ctx context.Context, tx pgx.Tx, id int64, msg string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE stages SET status = $1, error = $2, finished = $3
		WHERE build_id = $4 AND status = $5`, pipeline.StatusFailed, []byte(msg), nanos(now), id, pipeline.StatusRunning)
	return err
}

// missing says why no build with id was updated: there is none
// (pipeline.ErrNotFound), or it is at another attempt
// (pipeline.ErrLeaseLost).
func (s *Store) missing(ctx context.Context, id int64) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM builds WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return pipeline.ErrNotFound
	case err != nil:
		return err
	}
	return pipeline.ErrLeaseLost
}

// RequestCancel records a cancel of the running leased build id, with
// reason, for its runner to read (CancelRequested).
func (s *Store) RequestCancel(ctx context.Context, id int64, reason string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE builds SET cancel_request = $1
		WHERE id = $2 AND status = $3 AND lease_until IS NOT NULL`, reason, id, pipeline.StatusRunning)
	if err != nil {
		return false, fmt.Errorf("asking to cancel build %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// CancelRequested returns the reason RequestCancel recorded for build id.
func (s *Store) CancelRequested(ctx context.Context, id int64) (string, error) {
	var reason string
	err := s.pool.QueryRow(ctx, `SELECT cancel_request FROM builds WHERE id = $1`, id).Scan(&reason)
	if err != nil {
		return "", fmt.Errorf("reading the cancel request of build %d: %w", id, noRows(err))
	}
	return reason, nil
}

// ReleaseLeases ends at now the leases of the running builds whose holder
// begins with prefix, and the holds of those that ended unsettled.
func (s *Store) ReleaseLeases(ctx context.Context, prefix string, now time.Time) (int, error) {
	if _, err := s.pool.Exec(ctx, `UPDATE builds SET settled = TRUE
		WHERE NOT settled AND status NOT IN ($1, $2) AND left(lease_holder, $3) = $4`,
		pipeline.StatusQueued, pipeline.StatusRunning, len(prefix), prefix); err != nil {
		return 0, fmt.Errorf("releasing the holds of %s: %w", prefix, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE builds SET lease_until = $1
		WHERE status = $2 AND lease_until IS NOT NULL AND lease_until > $1 AND left(lease_holder, $3) = $4`,
		now.UnixNano()-1, pipeline.StatusRunning, len(prefix), prefix)
	if err != nil {
		return 0, fmt.Errorf("releasing the leases of %s: %w", prefix, err)
	}
	return int(tag.RowsAffected()), nil
}
