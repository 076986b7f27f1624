package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.Leader = (*Store)(nil)

// TryLead takes or renews the lease name for holder, in one statement:
// the row is written when there is none, when holder has it, or when it
// has expired by the database's clock (clock_timestamp, so that servers
// whose clocks differ agree). Concurrent callers are ordered by the row
// lock ON CONFLICT takes, each seeing the row the previous one left.
func (s *Store) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO leaders (name, holder, until)
		VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
		WHERE leaders.holder = EXCLUDED.holder OR leaders.until < clock_timestamp()`,
		name, holder, ttl.Microseconds())
	if err != nil {
		return false, fmt.Errorf("taking the lease %s: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Resign deletes the lease name if holder has it.
func (s *Store) Resign(ctx context.Context, name, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM leaders WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("giving up the lease %s: %w", name, err)
	}
	return nil
}
