package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// PinCommit makes build id check out commit instead of its branch's head.
func (s *Store) PinCommit(ctx context.Context, id int64, commit string) error {
	var project string
	if err := s.db.QueryRowContext(ctx, `SELECT project FROM builds WHERE id = ?`, id).Scan(&project); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("pinning build %d to %s: %w", id, commit, pipeline.ErrNotFound)
		}
		return fmt.Errorf("pinning build %d to %s: %w", id, commit, err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO build_identity (build_id, project, pin_commit) VALUES (?, ?, ?)
		ON CONFLICT (build_id) DO UPDATE SET pin_commit = excluded.pin_commit`, id, project, commit)
	if err != nil {
		return fmt.Errorf("pinning build %d to %s: %w", id, commit, err)
	}
	return nil
}

// PinnedCommit is the commit PinCommit set for build id, "" for none.
func (s *Store) PinnedCommit(ctx context.Context, id int64) (string, error) {
	var commit string
	err := s.db.QueryRowContext(ctx, `SELECT pin_commit FROM build_identity WHERE build_id = ?`, id).Scan(&commit)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading build %d: %w", id, err)
	}
	return commit, nil
}
