package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

const buildColumns = `id, project, number, status, cause, git_commit, failed_stage,
	reason, image, digest, created, started, finished, attempt`

// CreateBuild stores b as a new build, setting b.ID and b.Number (one more
// than the project's last build). The number is chosen and the row inserted
// in one immediate transaction, so concurrent callers, in this process or
// another, get distinct consecutive numbers.
func (s *Store) CreateBuild(ctx context.Context, b *pipeline.Build) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error { return insertBuild(ctx, tx, b) })
	if err != nil {
		return fmt.Errorf("creating build for %s: %w", b.Project, err)
	}
	return nil
}

// insertBuild inserts b in tx with the project's next number, and sets b.ID
// and b.Number. tx must be immediate so that the number stays free.
func insertBuild(ctx context.Context, tx *sql.Tx, b *pipeline.Build) error {
	var id int64
	var number int
	err := tx.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(number), 0) + 1 FROM builds WHERE project = ?`,
		b.Project).Scan(&number)
	if err != nil {
		return err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO builds (`+buildColumns+`)
		VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		b.Project, number, b.Status, b.Cause, b.Commit, b.FailedStage, b.Reason,
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
	res, err := s.db.ExecContext(ctx, `UPDATE builds SET status = ?, cause = ?,
		git_commit = ?, failed_stage = ?, reason = ?, image = ?, digest = ?,
		created = ?, started = ?, finished = ? WHERE id = ? AND (? = 0 OR (attempt = ? AND lease_lost = 0))`,
		b.Status, b.Cause, b.Commit, b.FailedStage, b.Reason, b.Image, b.Digest,
		nanos(b.Created), nanos(b.Started), nanos(b.Finished), b.ID, b.Attempt, b.Attempt)
	if err != nil {
		return fmt.Errorf("updating build %d: %w", b.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("updating build %d: %w", b.ID, err)
	} else if n == 0 {
		return fmt.Errorf("updating build %d: %w", b.ID, s.missing(ctx, b.ID))
	}
	return nil
}

// Build returns the build with id, or an error wrapping pipeline.ErrNotFound.
func (s *Store) Build(ctx context.Context, id int64) (pipeline.Build, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+buildColumns+` FROM builds WHERE id = ?`, id)
	b, err := scanBuild(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = pipeline.ErrNotFound
	}
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("build %d: %w", id, err)
	}
	return b, nil
}

// Builds lists a project's builds, newest first, at most limit (0: all).
func (s *Store) Builds(ctx context.Context, project string, limit int) ([]pipeline.Build, error) {
	q := `SELECT ` + buildColumns + ` FROM builds WHERE project = ? ORDER BY number DESC`
	args := []any{project}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	bs, err := s.queryBuilds(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing builds of %s: %w", project, err)
	}
	return bs, nil
}

// The queries of lists, each a bounded range of an index whatever the
// number of builds stored (TestListQueryPlans holds them to it): the
// (project, number) index of the UNIQUE constraint serves them all.
const (
	buildNumberQuery  = `SELECT ` + buildColumns + ` FROM builds WHERE project = ? AND number = ?`
	buildsBeforeQuery = `SELECT ` + buildColumns + ` FROM builds
		WHERE project = ? AND number < ? ORDER BY number DESC LIMIT ?`
	// lastBuildsQuery skips through the index from one project to the
	// next (a recursive "skip scan"), and takes the highest number of each.
	lastBuildsQuery = `WITH RECURSIVE keys(k) AS (
			SELECT MIN(project) FROM builds
			UNION ALL
			SELECT (SELECT MIN(project) FROM builds WHERE project > keys.k) FROM keys WHERE keys.k IS NOT NULL)
		SELECT ` + buildColumns + ` FROM keys JOIN builds ON builds.id =
			(SELECT id FROM builds WHERE project = keys.k ORDER BY number DESC LIMIT 1)`
)

// BuildNumber returns build number n of project, or an error wrapping
// pipeline.ErrNotFound; one lookup in the (project, number) index.
func (s *Store) BuildNumber(ctx context.Context, project string, n int) (pipeline.Build, error) {
	row := s.db.QueryRowContext(ctx, buildNumberQuery, project, n)
	b, err := scanBuild(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = pipeline.ErrNotFound
	}
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("build #%d of %s: %w", n, project, err)
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
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	bs, err := s.queryBuilds(ctx, buildsBeforeQuery, project, before, limit)
	if err != nil {
		return nil, fmt.Errorf("listing builds of %s before #%d: %w", project, before, err)
	}
	return bs, nil
}

// loadLastBuilds maps each project key to its newest build (highest
// number), from the database; projects without builds are absent. One
// query that costs a few index lookups per project, whatever the
// history's length.
func (s *Store) loadLastBuilds(ctx context.Context) (map[string]pipeline.Build, error) {
	bs, err := s.queryBuilds(ctx, lastBuildsQuery)
	if err != nil {
		return nil, fmt.Errorf("listing last builds: %w", err)
	}
	out := make(map[string]pipeline.Build, len(bs))
	for _, b := range bs {
		out[b.Project] = b
	}
	return out, nil
}

// querier is what *sql.DB and *sql.Tx share for reading rows.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryBuilds runs q, which selects buildColumns, and scans every row.
func (s *Store) queryBuilds(ctx context.Context, q string, args ...any) ([]pipeline.Build, error) {
	return queryBuildsIn(ctx, s.db, q, args...)
}

// queryBuildsIn runs q (selecting buildColumns) with db, a database or a
// transaction, and scans every row.
func queryBuildsIn(ctx context.Context, db querier, q string, args ...any) ([]pipeline.Build, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pipeline.Build
	for rows.Next() {
		b, err := scanBuild(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func scanBuild(r scanner) (pipeline.Build, error) {
	var b pipeline.Build
	var created, started, finished sql.NullInt64
	err := r.Scan(&b.ID, &b.Project, &b.Number, &b.Status, &b.Cause, &b.Commit,
		&b.FailedStage, &b.Reason, &b.Image, &b.Digest, &created, &started, &finished, &b.Attempt)
	b.Created, b.Started, b.Finished = fromNanos(created), fromNanos(started), fromNanos(finished)
	return b, err
}

// PutStage inserts or replaces the stage (BuildID, Name). A missing build is
// pipeline.ErrNotFound.
func (s *Store) PutStage(ctx context.Context, st pipeline.Stage) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO stages
		(build_id, name, status, started, finished, error) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (build_id, name) DO UPDATE SET status = excluded.status,
		started = excluded.started, finished = excluded.finished, error = excluded.error`,
		st.BuildID, st.Name, st.Status, nanos(st.Started), nanos(st.Finished), st.Error)
	if err != nil {
		return fmt.Errorf("storing stage %s of build %d: %w", st.Name, st.BuildID, notFoundIf(err, st.BuildID))
	}
	return nil
}

// Stages lists a build's stages in pipeline order (pipeline.Stages); names
// it does not list come last, by name.
func (s *Store) Stages(ctx context.Context, buildID int64) ([]pipeline.Stage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT build_id, name, status, started,
		finished, error FROM stages WHERE build_id = ?`, buildID)
	if err != nil {
		return nil, fmt.Errorf("listing stages of build %d: %w", buildID, err)
	}
	defer rows.Close()
	var out []pipeline.Stage
	for rows.Next() {
		var st pipeline.Stage
		var started, finished sql.NullInt64
		if err := rows.Scan(&st.BuildID, &st.Name, &st.Status, &started, &finished, &st.Error); err != nil {
			return nil, fmt.Errorf("listing stages of build %d: %w", buildID, err)
		}
		st.Started, st.Finished = fromNanos(started), fromNanos(finished)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
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
