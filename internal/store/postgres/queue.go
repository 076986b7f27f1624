package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Enqueue creates a queued build of project with cause and Created = now,
// numbered after the project's last build, unless the project already has a
// queued build: then that one is returned with joined true. Both happen
// holding the project's numbering lock, so concurrent callers never queue
// two; the joined build is locked against a claim until the transaction
// ends, and one a claimer started meanwhile is not joined.
func (s *Store) Enqueue(ctx context.Context, project, cause string, now time.Time) (pipeline.Build, bool, error) {
	var b pipeline.Build
	var joined bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, lockNumbering, project); err != nil {
			return err
		}
		var err error
		b, err = scanBuild(tx.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds
			WHERE project = $1 AND status = $2 ORDER BY id LIMIT 1 FOR NO KEY UPDATE`, project, pipeline.StatusQueued))
		if err == nil {
			joined = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
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
// when none is ready, pipeline.ErrNotFound. Concurrent claimers, in this
// process or another, skip the builds another is taking (SKIP LOCKED) and
// never start two builds of one project.
func (s *Store) Claim(ctx context.Context, now time.Time) (pipeline.Build, error) {
	b, err := s.claim(ctx, pipeline.Lease{}, now, 0)
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("claiming a queued build: %w", err)
	}
	return b, nil
}

// ClaimID marks the build with id running with Started = now, held by
// lease, if it is still queued, its backoff has passed and its project has
// no running build, and returns it; otherwise pipeline.ErrNotFound.
func (s *Store) ClaimID(ctx context.Context, id int64, lease pipeline.Lease, now time.Time) (pipeline.Build, error) {
	b, err := s.claim(ctx, lease, now, id)
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("claiming build %d: %w", id, err)
	}
	return b, nil
}

// claim marks running, with Started = now and held by lease (none when
// zero), the oldest queued build (the one with id when id is not 0; one
// queued again after it lost its runner first) whose backoff has passed
// and whose project has no running build;
// pipeline.ErrNotFound when none is ready.
//
// A candidate row is locked with SKIP LOCKED, so claimers never wait on
// each other's rows; then the project's running lock is tried and, held,
// the project is checked again for a running build: a claim of another of
// its builds committed since the candidate was read shows there. A project
// whose lock another claimer holds is passed over.
func (s *Store) claim(ctx context.Context, lease pipeline.Lease, now time.Time, id int64) (pipeline.Build, error) {
	var b pipeline.Build
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		passed := []int64{}
		for {
			var err error
			b, err = scanBuild(tx.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds AS b
				WHERE status = $1 AND ($3 = 0 OR id = $3) AND id <> ALL($4)
				AND COALESCE(not_before, 0) <= $5
				AND NOT EXISTS (SELECT 1 FROM builds WHERE project = b.project AND status = $2)
				AND NOT `+heldRepository+`
				ORDER BY attempt > 1 DESC, id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED`,
				pipeline.StatusQueued, pipeline.StatusRunning, id, passed, now.UnixNano()))
			if err != nil {
				return noRows(err)
			}
			ok, err := startable(ctx, tx, b, now)
			if err != nil {
				return err
			}
			if ok {
				break
			}
			passed = append(passed, b.ID)
		}
		_, err := tx.Exec(ctx, `UPDATE builds SET status = $1, started = $2,
			lease_holder = $3, lease_until = $4, not_before = NULL, settled = FALSE WHERE id = $5`,
			pipeline.StatusRunning, nanos(now), lease.Holder, nanos(lease.Until), b.ID)
		b.Status, b.Started = pipeline.StatusRunning, fromNanos(nanos(now))
		return err
	})
	return b, err
}

// heldRepository is true when the image repository of the build b (the
// project key up to its one ':') is held (pipeline.HoldStore) by another
// build: one running ($2), or one that ended and is not settled while its
// lease lasts (past $5, now).
// Two EXISTS, so that each finds its few rows by an index.
const heldRepository = `(EXISTS (SELECT 1 FROM builds AS h WHERE h.status = $2 AND h.id <> b.id
	AND split_part(h.project, ':', 1) = split_part(b.project, ':', 1))
	OR EXISTS (SELECT 1 FROM builds AS h WHERE NOT h.settled AND h.lease_until > $5 AND h.id <> b.id
	AND split_part(h.project, ':', 1) = split_part(b.project, ':', 1)))`

// startable takes the running lock of b's project and the lock of its
// image repository in tx when free, and reports whether it did and, now
// that it holds them, the project has no running build and the repository
// is not held by another build.
func startable(ctx context.Context, tx pgx.Tx, b pipeline.Build, now time.Time) (bool, error) {
	ok, err := tryLock(ctx, tx, lockRunning, b.Project)
	if err != nil || !ok {
		return false, err
	}
	if ok, err = tryLock(ctx, tx, lockImageRepo, pipeline.RepositoryOf(b.Project)); err != nil || !ok {
		return false, err
	}
	var busy bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM builds WHERE project = $1 AND status = $2)
		OR EXISTS (SELECT 1 FROM builds AS h WHERE h.status = $2 AND h.id <> $3 AND split_part(h.project, ':', 1) = $4)
		OR EXISTS (SELECT 1 FROM builds AS h WHERE NOT h.settled AND h.lease_until > $5 AND h.id <> $3
			AND split_part(h.project, ':', 1) = $4)`,
		b.Project, pipeline.StatusRunning, b.ID, pipeline.RepositoryOf(b.Project), now.UnixNano()).Scan(&busy)
	return !busy, err
}

// Settle ends the hold of attempt of build id on its repository.
func (s *Store) Settle(ctx context.Context, id int64, attempt int) error {
	if _, err := s.pool.Exec(ctx, `UPDATE builds SET settled = TRUE WHERE id = $1 AND attempt = $2 AND NOT settled`, id, attempt); err != nil {
		return fmt.Errorf("settling build %d: %w", id, err)
	}
	return nil
}

// InFlight lists the queued and running builds and those that ended but
// hold their repository at now, oldest first, in one statement.
func (s *Store) InFlight(ctx context.Context, now time.Time) ([]pipeline.Build, error) {
	bs, err := queryBuilds(ctx, s.pool, `SELECT `+buildColumns+` FROM builds
		WHERE status IN ($1, $2) OR (NOT settled AND lease_until > $3) ORDER BY id`,
		pipeline.StatusQueued, pipeline.StatusRunning, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("listing builds in flight: %w", err)
	}
	return bs, nil
}

// CancelQueued marks the build with id cancelled, with reason and Finished =
// now, if it is still queued, and reports whether it was.
func (s *Store) CancelQueued(ctx context.Context, id int64, reason string, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE builds SET status = $1, reason = $2, finished = $3
		WHERE id = $4 AND status = $5`,
		pipeline.StatusCancelled, []byte(reason), nanos(now), id, pipeline.StatusQueued)
	if err != nil {
		return false, fmt.Errorf("cancelling build %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// SkipQueued marks the build with id skipped with reason and Finished = now
// if it is still queued, and reports whether it was.
func (s *Store) SkipQueued(ctx context.Context, id int64, reason string, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE builds SET status = $1, reason = $2, finished = $3
		WHERE id = $4 AND status = $5`, pipeline.StatusSkipped, []byte(reason), nanos(now), id, pipeline.StatusQueued)
	if err != nil {
		return false, fmt.Errorf("skipping build %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// SetQueuedCause replaces the cause of the build with id if it is queued.
func (s *Store) SetQueuedCause(ctx context.Context, id int64, cause string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE builds SET cause = $1 WHERE id = $2 AND status = $3`,
		cause, id, pipeline.StatusQueued); err != nil {
		return fmt.Errorf("updating the cause of build %d: %w", id, err)
	}
	return nil
}

// Active lists queued and running builds, oldest (lowest id) first.
func (s *Store) Active(ctx context.Context) ([]pipeline.Build, error) {
	bs, err := queryBuilds(ctx, s.pool, `SELECT `+buildColumns+` FROM builds
		WHERE status IN ($1, $2) ORDER BY id`, pipeline.StatusQueued, pipeline.StatusRunning)
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE stages SET status = $1, error = $2, finished = $3
			WHERE status = $4 AND build_id IN (SELECT id FROM builds WHERE status = $4 AND lease_until IS NULL)`,
			pipeline.StatusFailed, []byte(reason), nanos(now), pipeline.StatusRunning)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE builds SET status = $1, reason = $2, finished = $3
			WHERE status = $4 AND lease_until IS NULL`, pipeline.StatusFailed, []byte(reason), nanos(now), pipeline.StatusRunning)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("failing running builds: %w", err)
	}
	return int(n), nil
}
