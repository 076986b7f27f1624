package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

var (
	_ pipeline.CheckStore    = (*Store)(nil)
	_ pipeline.ArtifactStore = (*Store)(nil)
)

// PutCheckResults replaces the results stored for buildID with results, in
// their order, in one transaction, which locks the build's row so that two
// callers replace one after the other. A missing build is
// pipeline.ErrNotFound, even with no results.
func (s *Store) PutCheckResults(ctx context.Context, buildID int64, results []pipeline.CheckResult) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM builds WHERE id = $1 FOR NO KEY UPDATE`, buildID).Scan(&one)
		if err != nil {
			return fmt.Errorf("build %d: %w", buildID, noRows(err))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM check_results WHERE build_id = $1`, buildID); err != nil {
			return err
		}
		if len(results) == 0 {
			return nil
		}
		var batch pgx.Batch
		for i, r := range results {
			batch.Queue(`INSERT INTO check_results (build_id, seq, id, grp,
				description, status, detail, blocking, location, duration, output)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				buildID, i, r.ID, r.Group, r.Description, r.Status,
				[]byte(r.Detail), r.Blocking, r.Location, int64(r.Duration), []byte(r.Output))
		}
		return notFoundIf(tx.SendBatch(ctx, &batch).Close(), buildID)
	})
	if err != nil {
		return fmt.Errorf("storing the check results of build %d: %w", buildID, err)
	}
	return nil
}

// CheckResults returns buildID's results in the order they were stored;
// none (and no error) for a build that has none or does not exist.
func (s *Store) CheckResults(ctx context.Context, buildID int64) ([]pipeline.CheckResult, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, grp, description, status, detail,
		blocking, location, duration, output FROM check_results WHERE build_id = $1 ORDER BY seq`, buildID)
	if err != nil {
		return nil, fmt.Errorf("reading the check results of build %d: %w", buildID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pipeline.CheckResult, error) {
		var r pipeline.CheckResult
		var d int64
		var detail, output []byte
		err := row.Scan(&r.ID, &r.Group, &r.Description, &r.Status, &detail,
			&r.Blocking, &r.Location, &d, &output)
		r.Duration, r.Detail, r.Output = time.Duration(d), string(detail), string(output)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the check results of build %d: %w", buildID, err)
	}
	return out, nil
}

// PutArtifact stores a, replacing the artifact of the same build and name.
// A missing build is pipeline.ErrNotFound.
func (s *Store) PutArtifact(ctx context.Context, a pipeline.Artifact) error {
	if a.Name == "" {
		return fmt.Errorf("storing an artifact of build %d: no name", a.BuildID)
	}
	data := a.Data
	if data == nil {
		data = []byte{} // the column is NOT NULL; nil reads back as empty
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO artifacts (build_id, name, content_type, data, created)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (build_id, name) DO UPDATE SET
		content_type = excluded.content_type, data = excluded.data, created = excluded.created`,
		a.BuildID, a.Name, a.ContentType, data, nanos(a.Created))
	if err != nil {
		return fmt.Errorf("storing artifact %s of build %d: %w", a.Name, a.BuildID, notFoundIf(err, a.BuildID))
	}
	return nil
}

// Artifact returns the artifact (buildID, name), data included, or
// pipeline.ErrNotFound.
func (s *Store) Artifact(ctx context.Context, buildID int64, name string) (pipeline.Artifact, error) {
	a := pipeline.Artifact{BuildID: buildID, Name: name}
	var created *int64
	err := s.pool.QueryRow(ctx, `SELECT content_type, data, created FROM artifacts
		WHERE build_id = $1 AND name = $2`, buildID, name).Scan(&a.ContentType, &a.Data, &created)
	if err != nil {
		return pipeline.Artifact{}, fmt.Errorf("reading artifact %s of build %d: %w", name, buildID, noRows(err))
	}
	a.Created = fromNanos(created)
	return a, nil
}

// Artifacts lists buildID's artifacts by name, with Data nil; none (and no
// error) for a build that has none or does not exist.
func (s *Store) Artifacts(ctx context.Context, buildID int64) ([]pipeline.Artifact, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, content_type, created FROM artifacts
		WHERE build_id = $1 ORDER BY name`, buildID)
	if err != nil {
		return nil, fmt.Errorf("listing the artifacts of build %d: %w", buildID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.Artifact, error) {
		a := pipeline.Artifact{BuildID: buildID}
		var created *int64
		err := r.Scan(&a.Name, &a.ContentType, &created)
		a.Created = fromNanos(created)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the artifacts of build %d: %w", buildID, err)
	}
	return out, nil
}
