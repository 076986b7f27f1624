package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.ScanStore = (*Store)(nil)

// PutScan stores sc as a new scan and sets sc.ID. The report is kept as
// JSON text (not jsonb, which refuses \u0000), its SBOM in a column of its
// own.
func (s *Store) PutScan(ctx context.Context, sc *pipeline.Scan) error {
	rep := sc.Report
	sbom := rep.SBOM
	if sbom == nil {
		sbom = []byte{}
	}
	rep.SBOM = nil
	report, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("storing a scan of %s: %w", sc.Image, err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO scans (project, image, digest, build_id,
		cause, started, finished, report, sbom) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		sc.Project, sc.Image, sc.Digest, sc.BuildID, sc.Cause, nanos(sc.Started),
		nanos(sc.Finished), string(report), sbom).Scan(&sc.ID)
	if err != nil {
		return fmt.Errorf("storing a scan of %s: %w", sc.Image, err)
	}
	return nil
}

// scanColumns are the columns scanRow reads, the SBOM excepted.
const scanColumns = `id, project, image, digest, build_id, cause, started, finished, report`

// scanRow reads one row of scanColumns, plus the SBOM when sbom is set.
func scanRow(row pgx.Row, sbom bool) (pipeline.Scan, error) {
	var sc pipeline.Scan
	var started, finished *int64
	var report string
	dest := []any{&sc.ID, &sc.Project, &sc.Image, &sc.Digest, &sc.BuildID, &sc.Cause,
		&started, &finished, &report}
	var data []byte
	if sbom {
		dest = append(dest, &data)
	}
	if err := row.Scan(dest...); err != nil {
		return sc, err
	}
	if err := json.Unmarshal([]byte(report), &sc.Report); err != nil {
		return sc, fmt.Errorf("decoding the report of scan %d: %w", sc.ID, err)
	}
	if len(data) > 0 {
		sc.Report.SBOM = data
	}
	sc.Started, sc.Finished = fromNanos(started), fromNanos(finished)
	return sc, nil
}

// Scans lists a project's scans, newest (last stored) first, at most limit
// (0: all). Their reports come without the SBOM, which can be megabytes:
// ScanOf returns it.
func (s *Store) Scans(ctx context.Context, project string, limit int) ([]pipeline.Scan, error) {
	var max *int // NULL: no limit
	if limit > 0 {
		max = &limit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+scanColumns+` FROM scans
		WHERE project = $1 ORDER BY id DESC LIMIT $2`, project, max)
	if err != nil {
		return nil, fmt.Errorf("listing the scans of %s: %w", project, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.Scan, error) { return scanRow(r, false) })
	if err != nil {
		return nil, fmt.Errorf("listing the scans of %s: %w", project, err)
	}
	return out, nil
}

// ScanOf returns the scan with id, SBOM included, or pipeline.ErrNotFound.
func (s *Store) ScanOf(ctx context.Context, id int64) (pipeline.Scan, error) {
	sc, err := scanRow(s.pool.QueryRow(ctx, `SELECT `+scanColumns+`, sbom FROM scans WHERE id = $1`, id), true)
	if err != nil {
		return pipeline.Scan{}, fmt.Errorf("reading scan %d: %w", id, noRows(err))
	}
	return sc, nil
}

// ScanOfBuild returns the newest scan that ran in build buildID, SBOM
// included, or pipeline.ErrNotFound.
func (s *Store) ScanOfBuild(ctx context.Context, buildID int64) (pipeline.Scan, error) {
	sc, err := scanRow(s.pool.QueryRow(ctx, `SELECT `+scanColumns+`, sbom FROM scans
		WHERE build_id = $1 AND build_id != 0 ORDER BY id DESC LIMIT 1`, buildID), true)
	if err != nil {
		return pipeline.Scan{}, fmt.Errorf("reading the scan of build %d: %w", buildID, noRows(err))
	}
	return sc, nil
}
