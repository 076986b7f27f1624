package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// CreateNamespace makes the namespace name with owner (when not 0) as its
// maintainer. A taken name is pipeline.ErrExists, a missing owner
// pipeline.ErrNotFound.
func (s *Store) CreateNamespace(ctx context.Context, name string, owner int64, now time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO namespaces (name, created) VALUES ($1, $2)`, name, nanos(now))
		if isCode(err, uniqueViolation) {
			return pipeline.ErrExists
		}
		if err != nil || owner == 0 {
			return err
		}
		return addMember(ctx, tx, pipeline.Member{Namespace: name, UserID: owner, Role: pipeline.RoleMaintainer})
	})
	if err != nil {
		return fmt.Errorf("creating namespace %q: %w", name, err)
	}
	return nil
}

// ClaimNamespace makes the namespace name with owner as its maintainer
// when neither the namespace nor a project in it exists.
func (s *Store) ClaimNamespace(ctx context.Context, name string, owner int64, now time.Time) (bool, error) {
	claimed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO namespaces (name, created) SELECT $1, $2
			WHERE NOT EXISTS (SELECT 1 FROM projects WHERE app_id = $1)
			ON CONFLICT (name) DO NOTHING`, name, nanos(now))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		claimed = true
		return addMember(ctx, tx, pipeline.Member{Namespace: name, UserID: owner, Role: pipeline.RoleMaintainer})
	})
	if err != nil {
		return false, fmt.Errorf("claiming namespace %q: %w", name, err)
	}
	return claimed, nil
}

// Grant gives m.UserID the role m.Role in m.Namespace.
func (s *Store) Grant(ctx context.Context, m pipeline.Member) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error { return addMember(ctx, tx, m) })
	if err != nil {
		return fmt.Errorf("granting %s in %q to user %d: %w", m.Role, m.Namespace, m.UserID, err)
	}
	return nil
}

// addMember stores m, replacing the user's role in the namespace.
func addMember(ctx context.Context, tx pgx.Tx, m pipeline.Member) error {
	_, err := tx.Exec(ctx, `INSERT INTO members (namespace, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (namespace, user_id) DO UPDATE SET role = excluded.role`, m.Namespace, m.UserID, m.Role)
	if isCode(err, foreignKeyViolation) {
		return pipeline.ErrNotFound
	}
	return err
}

// Revoke removes the user from the namespace.
func (s *Store) Revoke(ctx context.Context, namespace string, userID int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM members WHERE namespace = $1 AND user_id = $2`, namespace, userID)
	return affected(tag, err, fmt.Sprintf("revoking user %d in %q", userID, namespace))
}

// Members lists the namespace's members by user id.
func (s *Store) Members(ctx context.Context, namespace string) ([]pipeline.Member, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM namespaces WHERE name = $1)`, namespace).Scan(&exists); err != nil {
		return nil, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if !exists {
		return nil, fmt.Errorf("namespace %q: %w", namespace, pipeline.ErrNotFound)
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id, role FROM members WHERE namespace = $1 ORDER BY user_id`, namespace)
	if err != nil {
		return nil, fmt.Errorf("members of %q: %w", namespace, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.Member, error) {
		m := pipeline.Member{Namespace: namespace}
		err := r.Scan(&m.UserID, &m.Role)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("members of %q: %w", namespace, err)
	}
	return out, nil
}

// Role returns the user's role in the namespace.
func (s *Store) Role(ctx context.Context, namespace string, userID int64) (pipeline.Role, error) {
	var r pipeline.Role
	err := s.pool.QueryRow(ctx, `SELECT role FROM members WHERE namespace = $1 AND user_id = $2`, namespace, userID).Scan(&r)
	if err != nil {
		return "", fmt.Errorf("role of user %d in %q: %w", userID, namespace, noRows(err))
	}
	return r, nil
}
