package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.Leader = (*Store)(nil)

// TryLead takes or renews the lease name for holder, in one statement:
// the row is written when there is none, when holder has it, or when it
// has expired. Every process sharing the file is on this machine, so
// time.Now is the store's clock.
func (s *Store) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := time.Now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO leaders (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leaders.holder = excluded.holder OR leaders.until < ?`,
		name, holder, now.Add(ttl).UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("taking the lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("taking the lease %s: %w", name, err)
	}
	return n == 1, nil
}

// Resign deletes the lease name if holder has it.
func (s *Store) Resign(ctx context.Context, name, holder string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM leaders WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("giving up the lease %s: %w", name, err)
	}
	return nil
}
