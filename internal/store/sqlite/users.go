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

// CreateUser stores u, setting u.ID. A taken name is pipeline.ErrExists.
func (s *Store) CreateUser(ctx context.Context, u *pipeline.User) error {
	err := s.db.QueryRowContext(ctx, `INSERT INTO users (name, password_hash, created)
		VALUES (?, ?, ?) RETURNING id`, u.Name, u.PasswordHash, nanos(u.Created)).Scan(&u.ID)
	if isUnique(err) {
		err = pipeline.ErrExists
	}
	if err != nil {
		return fmt.Errorf("creating user %q: %w", u.Name, err)
	}
	return nil
}

// UserByName returns the user called name, or pipeline.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (pipeline.User, error) {
	u, err := s.user(ctx, `name = ?`, name)
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// UserByID returns the user with id, or pipeline.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (pipeline.User, error) {
	u, err := s.user(ctx, `id = ?`, id)
	if err != nil {
		return u, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// user returns the one user matching where.
func (s *Store) user(ctx context.Context, where string, arg any) (pipeline.User, error) {
	var u pipeline.User
	var created sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, name, password_hash, created
		FROM users WHERE `+where, arg).Scan(&u.ID, &u.Name, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return pipeline.User{}, pipeline.ErrNotFound
	}
	if err != nil {
		return pipeline.User{}, err
	}
	u.Created = fromNanos(created)
	return u, nil
}

// PutCredential stores c, replacing a credential of the same kind and hash.
// A missing user is pipeline.ErrNotFound.
func (s *Store) PutCredential(ctx context.Context, c pipeline.Credential) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO credentials
		(kind, hash, user_id, name, created, expires) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, hash) DO UPDATE SET user_id = excluded.user_id,
		name = excluded.name, created = excluded.created, expires = excluded.expires`,
		c.Kind, c.Hash, c.UserID, c.Name, nanos(c.Created), nanos(c.Expires))
	if isForeignKey(err) {
		err = fmt.Errorf("user %d: %w", c.UserID, pipeline.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("storing %s credential: %w", c.Kind, err)
	}
	return nil
}

// Credential returns the credential of kind with hash unless it has expired
// at now (Expires set and not after now); otherwise pipeline.ErrNotFound.
func (s *Store) Credential(ctx context.Context, kind pipeline.CredentialKind, hash string, now time.Time) (pipeline.Credential, error) {
	var c pipeline.Credential
	var created, expires sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT kind, hash, user_id, name, created, expires
		FROM credentials WHERE kind = ? AND hash = ? AND (expires IS NULL OR expires > ?)`,
		kind, hash, now.UnixNano()).Scan(&c.Kind, &c.Hash, &c.UserID, &c.Name, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		err = pipeline.ErrNotFound
	}
	if err != nil {
		return pipeline.Credential{}, fmt.Errorf("%s credential: %w", kind, err)
	}
	c.Created, c.Expires = fromNanos(created), fromNanos(expires)
	return c, nil
}

// DeleteCredential removes the credential of kind with hash; a missing one
// is not an error.
func (s *Store) DeleteCredential(ctx context.Context, kind pipeline.CredentialKind, hash string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM credentials WHERE kind = ? AND hash = ?`, kind, hash)
	if err != nil {
		return fmt.Errorf("deleting %s credential: %w", kind, err)
	}
	return nil
}

// Tokens lists the API tokens of the user with userID (every user's for
// 0), oldest first.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]pipeline.Credential, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, hash, user_id, name, created, expires
		FROM credentials WHERE kind = ? AND (? = 0 OR user_id = ?)
		ORDER BY created, user_id, name, hash`, pipeline.CredentialToken, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var out []pipeline.Credential
	for rows.Next() {
		var c pipeline.Credential
		var created, expires sql.NullInt64
		if err := rows.Scan(&c.Kind, &c.Hash, &c.UserID, &c.Name, &created, &expires); err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		c.Created, c.Expires = fromNanos(created), fromNanos(expires)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// DeleteUser removes the user with id; their credentials go with them (ON
// DELETE CASCADE). A missing user is pipeline.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("deleting user %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("deleting user %d: %w", id, pipeline.ErrNotFound)
	}
	return nil
}

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
