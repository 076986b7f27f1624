package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// CreateUser stores u, setting u.ID. A taken name is pipeline.ErrExists.
func (s *Store) CreateUser(ctx context.Context, u *pipeline.User) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO users (name, password_hash, created, admin)
		VALUES ($1, $2, $3, $4) RETURNING id`, u.Name, u.PasswordHash, nanos(u.Created), u.Admin).Scan(&u.ID)
	if isCode(err, uniqueViolation) {
		err = pipeline.ErrExists
	}
	if err != nil {
		return fmt.Errorf("creating user %q: %w", u.Name, err)
	}
	return nil
}

// UserByName returns the user called name, or pipeline.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (pipeline.User, error) {
	u, err := s.user(ctx, `name = $1`, name)
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// UserByID returns the user with id, or pipeline.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (pipeline.User, error) {
	u, err := s.user(ctx, `id = $1`, id)
	if err != nil {
		return u, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// user returns the one user matching where.
func (s *Store) user(ctx context.Context, where string, arg any) (pipeline.User, error) {
	var u pipeline.User
	var created *int64
	err := s.pool.QueryRow(ctx, `SELECT id, name, password_hash, created, admin
		FROM users WHERE `+where, arg).Scan(&u.ID, &u.Name, &u.PasswordHash, &created, &u.Admin)
	if err != nil {
		return pipeline.User{}, noRows(err)
	}
	u.Created = fromNanos(created)
	return u, nil
}

// PutCredential stores c, replacing a credential of the same kind and hash.
// A missing user is pipeline.ErrNotFound.
func (s *Store) PutCredential(ctx context.Context, c pipeline.Credential) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO credentials
		(kind, hash, user_id, name, created, expires) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind, hash) DO UPDATE SET user_id = excluded.user_id,
		name = excluded.name, created = excluded.created, expires = excluded.expires`,
		c.Kind, c.Hash, c.UserID, c.Name, nanos(c.Created), nanos(c.Expires))
	if isCode(err, foreignKeyViolation) {
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
	var created, expires *int64
	err := s.pool.QueryRow(ctx, `SELECT kind, hash, user_id, name, created, expires
		FROM credentials WHERE kind = $1 AND hash = $2 AND (expires IS NULL OR expires > $3)`,
		kind, hash, now.UnixNano()).Scan(&c.Kind, &c.Hash, &c.UserID, &c.Name, &created, &expires)
	if err != nil {
		return pipeline.Credential{}, fmt.Errorf("%s credential: %w", kind, noRows(err))
	}
	c.Created, c.Expires = fromNanos(created), fromNanos(expires)
	return c, nil
}

// DeleteCredential removes the credential of kind with hash; a missing one
// is not an error.
func (s *Store) DeleteCredential(ctx context.Context, kind pipeline.CredentialKind, hash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM credentials WHERE kind = $1 AND hash = $2`, kind, hash)
	if err != nil {
		return fmt.Errorf("deleting %s credential: %w", kind, err)
	}
	return nil
}

// Tokens lists the API tokens of the user with userID (every user's for
// 0), oldest first. Like SQLite's, PostgreSQL's order puts a token without
// a creation time (NULL) first.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]pipeline.Credential, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, hash, user_id, name, created, expires
		FROM credentials WHERE kind = $1 AND ($2 = 0 OR user_id = $2)
		ORDER BY created NULLS FIRST, user_id, name, hash`, pipeline.CredentialToken, userID)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.Credential, error) {
		var c pipeline.Credential
		var created, expires *int64
		err := r.Scan(&c.Kind, &c.Hash, &c.UserID, &c.Name, &created, &expires)
		c.Created, c.Expires = fromNanos(created), fromNanos(expires)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// DeleteUser removes the user with id; their credentials and memberships go
// with them (ON DELETE CASCADE). A missing user is pipeline.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	return affected(tag, err, fmt.Sprintf("deleting user %d", id))
}
