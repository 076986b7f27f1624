package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

var (
	_ pipeline.CheckStore    = (*Store)(nil)
	_ pipeline.ArtifactStore = (*Store)(nil)
)

// buildExists fails with pipeline.ErrNotFound unless build id exists.
func buildExists(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM builds WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("build %d: %w", id, pipeline.ErrNotFound)
	}
	return err
}

// PutCheckResults replaces the results stored for buildID with results, in
// their order, in one transaction. A missing build is pipeline.ErrNotFound,
// even with no results.
func (s *Store) PutCheckResults(ctx context.Context, buildID int64, results []pipeline.CheckResult) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := buildExists(ctx, tx, buildID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM check_results WHERE build_id = ?`, buildID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO check_results (build_id, seq, id, grp,
			description, status, detail, blocking, location, duration, output)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, r := range results {
			if _, err := stmt.ExecContext(ctx, buildID, i, r.ID, r.Group, r.Description, r.Status,
				r.Detail, r.Blocking, r.Location, int64(r.Duration), r.Output); err != nil {
				return notFoundIf(err, buildID)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing the check results of build %d: %w", buildID, err)
	}
	return nil
}

// CheckResults returns buildID's results in the order they were stored;
// none (and no error) for a build that has none or does not exist.
func (s *Store) CheckResults(ctx context.Context, buildID int64) ([]pipeline.CheckResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, grp, description, status, detail,
		blocking, location, duration, output FROM check_results WHERE build_id = ? ORDER BY seq`, buildID)
	if err != nil {
		return nil, fmt.Errorf("reading the check results of build %d: %w", buildID, err)
	}
	defer rows.Close()
	var out []pipeline.CheckResult
	for rows.Next() {
		var r pipeline.CheckResult
		var d int64
		if err := rows.Scan(&r.ID, &r.Group, &r.Description, &r.Status, &r.Detail,
			&r.Blocking, &r.Location, &d, &r.Output); err != nil {
			return nil, fmt.Errorf("reading the check results of build %d: %w", buildID, err)
		}
		r.Duration = time.Duration(d)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO artifacts (build_id, name, content_type, data, created)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (build_id, name) DO UPDATE SET
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
	var created sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT content_type, data, created FROM artifacts
		WHERE build_id = ? AND name = ?`, buildID, name).Scan(&a.ContentType, &a.Data, &created)
	if errors.Is(err, sql.ErrNoRows) {
		err = pipeline.ErrNotFound
	}
	if err != nil {
		return pipeline.Artifact{}, fmt.Errorf("reading artifact %s of build %d: %w", name, buildID, err)
	}
	a.Created = fromNanos(created)
	return a, nil
}

// Artifacts lists buildID's artifacts by name, with Data nil; none (and no
// error) for a build that has none or does not exist.
func (s *Store) Artifacts(ctx context.Context, buildID int64) ([]pipeline.Artifact, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, content_type, created FROM artifacts
		WHERE build_id = ? ORDER BY name`, buildID)
	if err != nil {
		return nil, fmt.Errorf("listing the artifacts of build %d: %w", buildID, err)
	}
	defer rows.Close()
	var out []pipeline.Artifact
	for rows.Next() {
		a := pipeline.Artifact{BuildID: buildID}
		var created sql.NullInt64
		if err := rows.Scan(&a.Name, &a.ContentType, &created); err != nil {
			return nil, fmt.Errorf("listing the artifacts of build %d: %w", buildID, err)
		}
		a.Created = fromNanos(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the artifacts of build %d: %w", buildID, err)
	}
	return out, nil
}
