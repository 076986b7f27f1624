// Package postgres is Hoist's store for more than one process: every
// pipeline store interface over one PostgreSQL database (pgx), which
// several hoist serve processes may share. The schema is kept by versioned
// goose migrations of its own, embedded in the binary and applied by Open.
//
// Concurrency comes from PostgreSQL itself: claims take the oldest ready
// build with FOR NO KEY UPDATE SKIP LOCKED (FOR UPDATE's weaker form, which
// leaves the foreign keys of the build's stages and logs free), and what
// must happen one at a time per project (numbering builds, joining a queued
// build, starting a project's build) or per log (appending) holds a
// transaction-scoped advisory lock.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	gooselock "github.com/pressly/goose/v3/lock"

	"github.com/hoistci/hoist/internal/pipeline"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store keeps projects, builds and their queue, stages, logs, delivered
// images, users and credentials in one PostgreSQL database. It is safe for
// concurrent use, also by several processes sharing the database.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ pipeline.Store          = (*Store)(nil)
	_ pipeline.NotifyStore    = (*Store)(nil)
	_ pipeline.ReconcileStore = (*Store)(nil)
)

// Open connects to the database at url (postgres://user:password@host:port/db?…,
// or any connection string pgx takes), checks that it answers, and migrates
// its schema to the newest version this binary knows. A database migrated
// by a newer Hoist is refused. Errors never show the password.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors hide the password themselves.
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	where := describe(cfg.ConnConfig.Config)
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL at %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening PostgreSQL at %s: %w", where, err)
	}
	return &Store{pool: pool}, nil
}

// describe names the database of cfg for messages: user@host:port/database,
// never the password.
func describe(cfg pgconn.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// migrate brings the schema up to the newest embedded migration, holding
// goose's advisory lock so that servers starting together migrate once,
// after checking that the database is not newer than this binary: goose
// itself silently does nothing when the database holds versions it does
// not know.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := gooselock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	sources := p.ListSources()
	if known := sources[len(sources)-1].Version; current > known {
		return fmt.Errorf("database schema version %d is newer than this hoist supports (%d): run a newer hoist or restore a backup", current, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	return nil
}

// Close closes the connections. Readers returned by OpenLog fail afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs f in a read-committed transaction and commits it when f
// succeeds.
func (s *Store) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, f)
}

// The classes of advisory locks, each keyed by a hash of a name within it.
const (
	lockNumbering = 1 + iota // a project's build numbers and its queued build
	lockRunning              // starting a build of a project
	lockNotify               // a project's notify state
	lockLog                  // one log: build id and stage
	lockFrom                 // a project's FROM images
	lockImageRepo            // starting a build of an image repository
)

// lock takes the advisory lock (class, key) until tx ends.
func lock(ctx context.Context, tx pgx.Tx, class int32, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, class, key)
	return err
}

// tryLock takes the advisory lock (class, key) until tx ends if nobody
// holds it, and reports whether it did.
func tryLock(ctx context.Context, tx pgx.Tx, class int32, key string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, hashtext($2))`, class, key).Scan(&ok)
	return ok, err
}

// SQLSTATE codes this store tells apart.
const (
	foreignKeyViolation = "23503"
	uniqueViolation     = "23505"
)

// isCode reports whether err is a PostgreSQL error with SQLSTATE code.
func isCode(err error, code string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == code
}

// notFoundIf turns a foreign key violation into pipeline.ErrNotFound for
// the build id.
func notFoundIf(err error, buildID int64) error {
	if isCode(err, foreignKeyViolation) {
		return fmt.Errorf("build %d: %w", buildID, pipeline.ErrNotFound)
	}
	return err
}

// noRows turns pgx.ErrNoRows into pipeline.ErrNotFound.
func noRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return pipeline.ErrNotFound
	}
	return err
}

// nanos encodes t as Unix nanoseconds, and the zero time as NULL.
func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// fromNanos decodes what nanos encoded, in UTC.
func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// affected fails with what and pipeline.ErrNotFound when tag changed no row.
func affected(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, pipeline.ErrNotFound)
	}
	return nil
}
