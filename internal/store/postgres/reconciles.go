package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

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
	err = s.pool.QueryRow(ctx, `INSERT INTO reconciles
		(time, revision, added, changed, removed, diff, errors) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		nanos(r.Time), r.Revision, len(r.Added), len(r.Changed), len(r.Removed), string(diff), string(errs)).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("recording reconcile: %w", err)
	}
	return nil
}

// Reconciles lists reconciles, newest first, at most limit (0: all).
func (s *Store) Reconciles(ctx context.Context, limit int) ([]pipeline.Reconcile, error) {
	var max *int // NULL: no limit
	if limit > 0 {
		max = &limit
	}
	rows, err := s.pool.Query(ctx, `SELECT id, time, revision, diff, errors
		FROM reconciles ORDER BY id DESC LIMIT $1`, max)
	if err != nil {
		return nil, fmt.Errorf("listing reconciles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pipeline.Reconcile, error) { return scanReconcile(row) })
	if err != nil {
		return nil, fmt.Errorf("listing reconciles: %w", err)
	}
	return out, nil
}

func scanReconcile(row pgx.Row) (pipeline.Reconcile, error) {
	var r pipeline.Reconcile
	var t *int64
	var diff, errs string
	if err := row.Scan(&r.ID, &t, &r.Revision, &diff, &errs); err != nil {
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
