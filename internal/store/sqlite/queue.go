package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Enqueue creates a queued build of project with cause and Created = now,
// numbered after the project's last build, unless the project already has a
// queued build: then that one is returned with joined true. Both happen in
// one immediate transaction, so concurrent callers never queue two.
func (s *Store) Enqueue(ctx context.Context, project, cause string, now time.Time) (pipeline.Build, bool, error) {
	var b pipeline.Build
	var joined bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		b, err = scanBuild(tx.QueryRowContext(ctx, `SELECT `+buildColumns+` FROM builds
			WHERE project = ? AND status = ? ORDER BY id LIMIT 1`, project, pipeline.StatusQueued))
		if err == nil {
			joined = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		b = pipeline.Build{Project: project, Status: pipeline.StatusQueued, Cause: cause, Created: now}
		if err := insertBuild(ctx, tx, &b); err != nil {
			return err
		}
		b.Created = fromNanos(nanos(now)) // as read back: UTC
		return nil
	})
	if err != nil {
		return pipeline.Build{}, false, fmt.Errorf("queueing a build of %s: %w", project, err)
	}
	return b, joined, nil
}

// Claim takes the oldest queued build (by id) whose project has no running
// build, a build queued again after it lost its runner (attempt > 1)
// before the others, marks it running with Started = now and returns it;
// when none is ready, pipeline.ErrNotFound. The choice and the update are
// one immediate transaction, so two claimers, in this process or another,
// never get the same build.
func (s *Store) Claim(ctx context.Context, now time.Time) (pipeline.Build, error) {
	b, err := s.claim(ctx, pipeline.Lease{}, now, "ORDER BY attempt > 1 DESC, id LIMIT 1")
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("claiming a queued build: %w", err)
	}
	return b, nil
}

// heldRepository is true when the image repository of the build b (the
// project key up to its one ':') is held (pipeline.HoldStore) by another
// build: one running, or one that ended and is not settled while its lease
// lasts. Its arguments: the running status, now in nanoseconds.
// Two EXISTS, so that each finds its few rows by an index.
const heldRepository = `(EXISTS (SELECT 1 FROM builds AS h WHERE h.status = ? AND h.id <> b.id
	AND substr(h.project, 1, instr(h.project, ':')) = substr(b.project, 1, instr(b.project, ':')))
	OR EXISTS (SELECT 1 FROM builds AS h WHERE h.settled = 0 AND h.lease_until > ? AND h.id <> b.id
	AND substr(h.project, 1, instr(h.project, ':')) = substr(b.project, 1, instr(b.project, ':'))))`

// claim marks running, with Started = now and held by lease (none when
// zero), the first queued build whose project has no running build, whose
// repository is not held (pipeline.HoldStore) and whose backoff has passed, among those the SQL tail (a further AND
// condition and/or ORDER BY … LIMIT 1) with args selects. The choice and
// the update are one transaction; pipeline.ErrNotFound when none is ready.
func (s *Store) claim(ctx context.Context, lease pipeline.Lease, now time.Time, tail string, args ...any) (pipeline.Build, error) {
	var b pipeline.Build
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		b, err = scanBuild(tx.QueryRowContext(ctx, `SELECT `+buildColumns+` FROM builds AS b
			WHERE status = ? AND COALESCE(not_before, 0) <= ? AND NOT EXISTS (SELECT 1 FROM builds
				WHERE project = b.project AND status = ?) AND NOT `+heldRepository+` `+tail,
			append([]any{pipeline.StatusQueued, nanos(now), pipeline.StatusRunning, pipeline.StatusRunning, now.UnixNano()}, args...)...))
		if errors.Is(err, sql.ErrNoRows) {
			return pipeline.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE builds SET status = ?, started = ?,
			lease_holder = ?, lease_until = ?, not_before = NULL, settled = 0 WHERE id = ?`,
			pipeline.StatusRunning, nanos(now), lease.Holder, nanos(lease.Until), b.ID)
		b.Status, b.Started = pipeline.StatusRunning, fromNanos(nanos(now))
		return err
	})
	return b, err
}

// CancelQueued marks the build with id cancelled, with reason and Finished =
// now, if it is still queued, and reports whether it was.
func (s *Store) CancelQueued(ctx context.Context, id int64, reason string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE builds SET status = ?, reason = ?, finished = ?
		WHERE id = ? AND status = ?`,
		pipeline.StatusCancelled, reason, nanos(now), id, pipeline.StatusQueued)
	if err != nil {
		return false, fmt.Errorf("cancelling build %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cancelling build %d: %w", id, err)
	}
	return n > 0, nil
}

// Active lists queued and running builds, oldest (lowest id) first.
func (s *Store) Active(ctx context.Context) ([]pipeline.Build, error) {
	bs, err := s.queryBuilds(ctx, `SELECT `+buildColumns+` FROM builds
		WHERE status IN (?, ?) ORDER BY id`, pipeline.StatusQueued, pipeline.StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("listing active builds: %w", err)
	}
	return bs, nil
}

// FailRunning marks every running build that holds no lease failed with
// reason and Finished = now, and their running stages failed with Error =
// reason, as at the start of a server after a crash. It returns how many
// builds it marked. Leased builds are left to ExpireLeases.
func (s *Store) FailRunning(ctx context.Context, reason string, now time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE stages SET status = ?, error = ?, finished = ?
			WHERE status = ? AND build_id IN (SELECT id FROM builds WHERE status = ? AND lease_until IS NULL)`,
			pipeline.StatusFailed, reason, nanos(now), pipeline.StatusRunning, pipeline.StatusRunning)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE builds SET status = ?, reason = ?, finished = ?
			WHERE status = ? AND lease_until IS NULL`, pipeline.StatusFailed, reason, nanos(now), pipeline.StatusRunning)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("failing running builds: %w", err)
	}
	return int(n), nil
}

// Settle ends the hold of attempt of build id on its repository.
func (s *Store) Settle(ctx context.Context, id int64, attempt int) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE builds SET settled = 1 WHERE id = ? AND attempt = ? AND settled = 0`, id, attempt); err != nil {
		return fmt.Errorf("settling build %d: %w", id, err)
	}
	return nil
}

// InFlight lists the queued and running builds and those that ended but
// hold their repository at now, oldest first, in one statement.
func (s *Store) InFlight(ctx context.Context, now time.Time) ([]pipeline.Build, error) {
	bs, err := s.queryBuilds(ctx, `SELECT `+buildColumns+` FROM builds
		WHERE status IN (?, ?) OR (settled = 0 AND lease_until > ?) ORDER BY id`,
		pipeline.StatusQueued, pipeline.StatusRunning, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("listing builds in flight: %w", err)
	}
	return bs, nil
}
