package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hoistci/hoist/internal/pipeline"
)

// CreateNamespace makes the namespace name with owner (when not 0) as its
// maintainer. A taken name is pipeline.ErrExists, a missing owner
// pipeline.ErrNotFound.
func (s *Store) CreateNamespace(ctx context.Context, name string, owner int64, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO namespaces (name, created) VALUES (?, ?)`, name, nanos(now))
		if isUnique(err) || isPrimaryKey(err) {
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO namespaces (name, created) SELECT ?, ?
			WHERE NOT EXISTS (SELECT 1 FROM namespaces WHERE name = ?)
			AND NOT EXISTS (SELECT 1 FROM projects WHERE app_id = ?)`, name, nanos(now), name, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
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
	err := s.inTx(ctx, func(tx *sql.Tx) error { return addMember(ctx, tx, m) })
	if err != nil {
		return fmt.Errorf("granting %s in %q to user %d: %w", m.Role, m.Namespace, m.UserID, err)
	}
	return nil
}

// addMember stores m, replacing the user's role in the namespace.
func addMember(ctx context.Context, tx *sql.Tx, m pipeline.Member) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO members (namespace, user_id, role) VALUES (?, ?, ?)
		ON CONFLICT (namespace, user_id) DO UPDATE SET role = excluded.role`, m.Namespace, m.UserID, m.Role)
	if isForeignKey(err) {
		return pipeline.ErrNotFound
	}
	return err
}

// Revoke removes the user from the namespace.
func (s *Store) Revoke(ctx context.Context, namespace string, userID int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM members WHERE namespace = ? AND user_id = ?`, namespace, userID)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = pipeline.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("revoking user %d in %q: %w", userID, namespace, err)
	}
	return nil
}

// Members lists the namespace's members by user id.
func (s *Store) Members(ctx context.Context, namespace string) ([]pipeline.Member, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM namespaces WHERE name = ?`, namespace).Scan(&n); err != nil {
		return nil, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("namespace %q: %w", namespace, pipeline.ErrNotFound)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, role FROM members WHERE namespace = ? ORDER BY user_id`, namespace)
	if err != nil {
		return nil, fmt.Errorf("members of %q: %w", namespace, err)
	}
	defer rows.Close()
	var out []pipeline.Member
	for rows.Next() {
		m := pipeline.Member{Namespace: namespace}
		if err := rows.Scan(&m.UserID, &m.Role); err != nil {
			return nil, fmt.Errorf("members of %q: %w", namespace, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Role returns the user's role in the namespace.
func (s *Store) Role(ctx context.Context, namespace string, userID int64) (pipeline.Role, error) {
	var r pipeline.Role
	err := s.db.QueryRowContext(ctx, `SELECT role FROM members WHERE namespace = ? AND user_id = ?`, namespace, userID).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		err = pipeline.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("role of user %d in %q: %w", userID, namespace, err)
	}
	return r, nil
}

// isPrimaryKey reports whether err is a PRIMARY KEY constraint violation.
func isPrimaryKey(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
