package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// EnqueueCommit queues a build of project for commit unless one of that
// commit is queued, running or has run (see pipeline.CommitQueue). The
// checks and the change happen holding the project's numbering lock, so a
// webhook and a poll arriving together queue one build.
func (s *Store) EnqueueCommit(ctx context.Context, project, commit, before, cause string, now time.Time) (pipeline.Build, pipeline.EnqueueOutcome, error) {
	var b pipeline.Build
	var out pipeline.EnqueueOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, lockNumbering, project); err != nil {
			return err
		}
		var err error
		b, out, err = enqueueCommit(ctx, tx, project, commit, before, cause, now)
		return err
	})
	if err != nil {
		return pipeline.Build{}, "", fmt.Errorf("queueing a build of %s at %s: %w", project, commit, err)
	}
	return b, out, nil
}

// movedBackFrom reports whether a push from before to commit leaves the
// commit of project's newest build that got past checkout: a force-push
// back to a commit built earlier, to be built again.
func movedBackFrom(ctx context.Context, tx pgx.Tx, project, commit, before string) (bool, error) {
	if before == "" || pipeline.SameCommit(before, commit) {
		return false, nil
	}
	builds, err := queryBuilds(ctx, tx, `SELECT `+buildColumns+` FROM builds
		WHERE project = $1 AND git_commit != '' ORDER BY number DESC LIMIT 20`, project)
	if err != nil {
		return false, err
	}
	for _, b := range builds {
		if b.StartFailed() {
			continue
		}
		return pipeline.SameCommit(b.Commit, before), nil
	}
	return false, nil
}

// enqueueCommit is EnqueueCommit in tx, which holds the project's numbering
// lock. The project's active builds are locked (FOR NO KEY UPDATE), so that a
// claim does not start the queued build this joins before tx ends.
func enqueueCommit(ctx context.Context, tx pgx.Tx, project, commit, before, cause string, now time.Time) (pipeline.Build, pipeline.EnqueueOutcome, error) {
	active, err := queryBuilds(ctx, tx, `SELECT `+buildColumns+` FROM builds
		WHERE project = $1 AND status IN ($2, $3) ORDER BY id FOR NO KEY UPDATE`,
		project, pipeline.StatusQueued, pipeline.StatusRunning)
	if err != nil {
		return pipeline.Build{}, "", err
	}
	var queued *pipeline.Build
	for i, b := range active {
		if pipeline.SameCommit(b.Commit, commit) {
			return b, pipeline.EnqueueDuplicate, nil
		}
		if b.Status == pipeline.StatusQueued && queued == nil {
			queued = &active[i]
		}
	}
	// Any earlier build of the commit that got past checkout: a replayed
	// delivery of an older push builds nothing.
	earlier, err := queryBuilds(ctx, tx, `SELECT `+buildColumns+` FROM builds
		WHERE project = $1 AND lower(substr(git_commit, 1, 7)) = lower(substr($2, 1, 7))
		ORDER BY number DESC`, project, commit)
	if err != nil {
		return pipeline.Build{}, "", err
	}
	for _, b := range earlier {
		if pipeline.SameCommit(b.Commit, commit) && !b.StartFailed() {
			moved, err := movedBackFrom(ctx, tx, project, commit, before)
			if err != nil {
				return pipeline.Build{}, "", err
			}
			if !moved {
				return b, pipeline.EnqueueDuplicate, nil
			}
			break
		}
	}
	if queued != nil {
		_, err := tx.Exec(ctx, `UPDATE builds SET git_commit = $1 WHERE id = $2`, commit, queued.ID)
		queued.Commit = commit
		return *queued, pipeline.EnqueueJoined, err
	}
	b := pipeline.Build{Project: project, Status: pipeline.StatusQueued, Cause: cause, Commit: commit, Created: now}
	if err := insertBuild(ctx, tx, &b); err != nil {
		return pipeline.Build{}, "", err
	}
	b.Created = fromNanos(nanos(now)) // as read back: UTC
	return b, pipeline.EnqueueQueued, nil
}
