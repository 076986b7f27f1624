package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

const buildColumns = `id, project, number, status, cause, git_commit, failed_stage,
	reason, image, digest, created, started, finished, attempt`

// CreateBuild stores b as a new build, setting b.ID and b.Number (one more
// than the project's last build). The number is chosen and the row inserted
// holding the project's numbering lock, so concurrent callers, in this
// process or another, get distinct consecutive numbers.
func (s *Store) CreateBuild(ctx context.Context, b *pipeline.Build) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error { return insertBuild(ctx, tx, b) })
	if err != nil {
		return fmt.Errorf("creating build for %s: %w", b.Project, err)
	}
	return nil
}

// insertBuild takes the project's numbering lock in tx, inserts b with the
// project's next number, and sets b.ID and b.Number.
func insertBuild(ctx context.Context, tx pgx.Tx, b *pipeline.Build) error {
	if err := lock(ctx, tx, lockNumbering, b.Project); err != nil {
		return err
	}
	var number int
	err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM builds WHERE project = $1`,
		b.Project).Scan(&number)
	if err != nil {
		return err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO builds (project, number, status, cause, git_commit,
		failed_stage, reason, image, digest, created, started, finished, attempt)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		b.Project, number, b.Status, b.Cause, b.Commit, b.FailedStage, []byte(b.Reason),
		b.Image, b.Digest, nanos(b.Created), nanos(b.Started), nanos(b.Finished), max(b.Attempt, 1),
	).Scan(&id)
	if err != nil {
		return err
	}
	b.ID, b.Number, b.Attempt = id, number, max(b.Attempt, 1)
	return nil
}

// UpdateBuild replaces the stored build with b.ID. Project and Number stay
// as CreateBuild set them, and so do its attempt and lease. A missing build
// is pipeline.ErrNotFound; one at another attempt than b's (b.Attempt not
// 0) is pipeline.ErrLeaseLost.
func (s *Store) UpdateBuild(ctx context.Context, b pipeline.Build) error {
	tag, err := s.pool.Exec(ctx, `UPDATE builds SET status = $1, cause = $2,
		git_commit = $3, failed_stage = $4, reason = $5, image = $6, digest = $7,
		created = $8, started = $9, finished = $10 WHERE id = $11 AND ($12 = 0 OR (attempt = $12 AND NOT lease_lost))`,
		b.Status, b.Cause, b.Commit, b.FailedStage, []byte(b.Reason), b.Image, b.Digest,
		nanos(b.Created), nanos(b.Started), nanos(b.Finished), b.ID, b.Attempt)
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("updating build %d: %w", b.ID, s.missing(ctx, b.ID))
	}
	return affected(tag, err, fmt.Sprintf("updating build %d", b.ID))
}

// Build returns the build with id, or an error wrapping pipeline.ErrNotFound.
func (s *Store) Build(ctx context.Context, id int64) (pipeline.Build, error) {
	b, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds WHERE id = $1`, id))
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("build %d: %w", id, noRows(err))
	}
	return b, nil
}

// Builds lists a project's builds, newest first, at most limit (0: all).
func (s *Store) Builds(ctx context.Context, project string, limit int) ([]pipeline.Build, error) {
	q := `SELECT ` + buildColumns + ` FROM builds WHERE project = $1 ORDER BY number DESC`
	args := []any{project}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	bs, err := queryBuilds(ctx, s.pool, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing builds of %s: %w", project, err)
	}
	return bs, nil
}

// The queries of lists, each a bounded range of the (project, number)
// index of the UNIQUE constraint whatever the number of builds stored.
const (
	buildsBeforeQuery = `SELECT ` + buildColumns + ` FROM builds
		WHERE project = $1 AND number < $2 ORDER BY number DESC LIMIT $3`
	// lastBuildsQuery skips through the index from one project to the
	// next (a recursive "skip scan"; DISTINCT ON would read every build),
	// and takes the highest number of each.
	lastBuildsQuery = `WITH RECURSIVE keys(k) AS (
			(SELECT project FROM builds ORDER BY project LIMIT 1)
			UNION ALL
			SELECT (SELECT project FROM builds WHERE project > keys.k ORDER BY project LIMIT 1)
			FROM keys WHERE keys.k IS NOT NULL)
		SELECT b.* FROM keys CROSS JOIN LATERAL
			(SELECT ` + buildColumns + ` FROM builds WHERE project = keys.k ORDER BY number DESC LIMIT 1) b`
)

// BuildNumber returns build number n of project, or an error wrapping
// pipeline.ErrNotFound; one lookup in the (project, number) index.
func (s *Store) BuildNumber(ctx context.Context, project string, n int) (pipeline.Build, error) {
	b, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds WHERE project = $1 AND number = $2`, project, n))
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("build #%d of %s: %w", n, project, noRows(err))
	}
	return b, nil
}

// BuildsBefore lists project's builds numbered below before (0: from the
// newest), newest first, at most limit (0: all): a range of the (project,
// number) index.
func (s *Store) BuildsBefore(ctx context.Context, project string, before, limit int) ([]pipeline.Build, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	bs, err := queryBuilds(ctx, s.pool, buildsBeforeQuery, project, before, lim)
	if err != nil {
		return nil, fmt.Errorf("listing builds of %s before #%d: %w", project, before, err)
	}
	return bs, nil
}

// LastBuilds maps each project key to its newest build (highest number), in
// one query that costs a few index lookups per project, whatever the
// history's length; projects without builds are absent.
func (s *Store) LastBuilds(ctx context.Context) (map[string]pipeline.Build, error) {
	bs, err := queryBuilds(ctx, s.pool, lastBuildsQuery)
	if err != nil {
		return nil, fmt.Errorf("listing last builds: %w", err)
	}
	out := make(map[string]pipeline.Build, len(bs))
	for _, b := range bs {
		out[b.Project] = b
	}
	return out, nil
}

// querier is what the pool and a transaction share for reading rows.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryBuilds runs q (selecting buildColumns) with db, the pool or a
// transaction, and scans every row.
func queryBuilds(ctx context.Context, db querier, q string, args ...any) ([]pipeline.Build, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.Build, error) { return scanBuild(r) })
}

func scanBuild(r pgx.Row) (pipeline.Build, error) {
	var b pipeline.Build
	var created, started, finished *int64
	var reason []byte
	err := r.Scan(&b.ID, &b.Project, &b.Number, &b.Status, &b.Cause, &b.Commit,
		&b.FailedStage, &reason, &b.Image, &b.Digest, &created, &started, &finished, &b.Attempt)
	b.Reason = string(reason)
	b.Created, b.Started, b.Finished = fromNanos(created), fromNanos(started), fromNanos(finished)
	return b, err
}

// PutStage inserts or replaces the stage (BuildID, Name). A missing build is
// pipeline.ErrNotFound.
func (s *Store) PutStage(ctx context.Context, st pipeline.Stage) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO stages
		(build_id, name, status, started, finished, error) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (build_id, name) DO UPDATE SET status = excluded.status,
		started = excluded.started, finished = excluded.finished, error = excluded.error`,
		st.BuildID, st.Name, st.Status, nanos(st.Started), nanos(st.Finished), []byte(st.Error))
	if err != nil {
		return fmt.Errorf("storing stage %s of build %d: %w", st.Name, st.BuildID, notFoundIf(err, st.BuildID))
	}
	return nil
}

// Stages lists a build's stages in pipeline order (pipeline.Stages); names
// it does not list come last, by name.
func (s *Store) Stages(ctx context.Context, buildID int64) ([]pipeline.Stage, error) {
	rows, err := s.pool.Query(ctx, `SELECT build_id, name, status, started,
		finished, error FROM stages WHERE build_id = $1`, buildID)
	if err != nil {
		return nil, fmt.Errorf("listing stages of build %d: %w", buildID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.Stage, error) {
		var st pipeline.Stage
		var started, finished *int64
		var msg []byte
		err := r.Scan(&st.BuildID, &st.Name, &st.Status, &started, &finished, &msg)
		st.Started, st.Finished, st.Error = fromNanos(started), fromNanos(finished), string(msg)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing stages of build %d: %w", buildID, err)
	}
	slices.SortFunc(out, func(a, b pipeline.Stage) int {
		return compareStages(a.Name, b.Name)
	})
	return out, nil
}

// compareStages orders stage names as pipeline.Stages does, unknown names
// last and by name.
func compareStages(a, b pipeline.StageName) int {
	rank := func(n pipeline.StageName) int {
		if i := slices.Index(pipeline.Stages, n); i >= 0 {
			return i
		}
		return len(pipeline.Stages)
	}
	if c := rank(a) - rank(b); c != 0 {
		return c
	}
	return strings.Compare(string(a), string(b))
}
