package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.ReconcileStore = (*Store)(nil)

// reconcileDiff is how a reconcile's diff is kept in the diff JSON.
type reconcileDiff struct {
	Added   []string                 `json:"added"`
	Changed []pipeline.ProjectChange `json:"changed"`
	Removed []string                 `json:"removed"`
}

// RecordReconcile stores r, setting r.ID.
func (s *Store) RecordReconcile(ctx context.Context, r *pipeline.Reconcile) error {
	diff, err := json.Marshal(reconcileDiff{Added: r.Added, Changed: r.Changed, Removed: r.Removed})
	if err != nil {
		return fmt.Errorf("recording reconcile: %w", err)
	}
	errs, err := json.Marshal(r.Errors)
	if err != nil {
		return fmt.Errorf("recording reconcile: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO reconciles
		(time, revision, added, changed, removed, diff, errors) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		nanos(r.Time), r.Revision, len(r.Added), len(r.Changed), len(r.Removed), string(diff), string(errs))
	if err != nil {
		return fmt.Errorf("recording reconcile: %w", err)
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("recording reconcile: %w", err)
	}
	return nil
}

// Reconciles lists reconciles, newest first, at most limit (0: all).
func (s *Store) Reconciles(ctx context.Context, limit int) ([]pipeline.Reconcile, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, revision, diff, errors
		FROM reconciles ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing reconciles: %w", err)
	}
	defer rows.Close()
	var out []pipeline.Reconcile
	for rows.Next() {
		r, err := scanReconcile(rows)
		if err != nil {
			return nil, fmt.Errorf("listing reconciles: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing reconciles: %w", err)
	}
	return out, nil
}

func scanReconcile(rows *sql.Rows) (pipeline.Reconcile, error) {
	var r pipeline.Reconcile
	var t sql.NullInt64
	var diff, errs string
	if err := rows.Scan(&r.ID, &t, &r.Revision, &diff, &errs); err != nil {
		return r, err
	}
	r.Time = fromNanos(t)
	var d reconcileDiff
	if err := json.Unmarshal([]byte(diff), &d); err != nil {
		return r, fmt.Errorf("decoding the diff of reconcile %d: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(errs), &r.Errors); err != nil {
		return r, fmt.Errorf("decoding the errors of reconcile %d: %w", r.ID, err)
	}
	r.Added, r.Changed, r.Removed = d.Added, d.Changed, d.Removed
	return r, nil
}
