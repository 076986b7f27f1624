// Package sqlite is Hoist's embedded store: every pipeline store interface
// over one SQLite file (pure Go, modernc.org/sqlite), in WAL mode so that
// readers never wait for the writer. The schema is kept by versioned goose
// migrations embedded in the binary and applied by Open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hoistci/hoist/internal/pipeline"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store keeps projects, builds and their queue, stages, logs, delivered
// images, users and credentials in one SQLite database. It is safe for concurrent use, also by several processes
// sharing the file: writes take the database lock when their transaction
// begins (BEGIN IMMEDIATE) and wait up to 5 s for it.
type Store struct {
	db    *sql.DB
	lists listCache
}

var _ pipeline.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating it and its parent
// folders when missing, and migrates its schema to the newest version this
// binary knows. A database migrated by a newer Hoist is refused. The
// database holds password hashes and logs: it and its WAL and shared
// memory files are made readable by their owner only (0600), and folders
// Open creates are 0700.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("opening store %s: %w", path, err)
		}
	}
	if err := private(path); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// private creates the database file at path with mode 0600 when missing,
// so that SQLite, which gives its WAL and shared memory files the mode of
// the database, makes them 0600 too; an existing database and those files
// (from an older Hoist, made 0644) are set to 0600.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// dsn is the modernc.org/sqlite data source name for the file at path. The
// "file:" form passes the path to SQLite as a URI, so the characters that
// mean something in a URI are escaped. _txlock=immediate makes every
// read-write transaction BEGIN IMMEDIATE, so that a read-then-write
// transaction (CreateBuild, AppendLog) cannot fail with SQLITE_BUSY when
// another connection wrote in between; busy_timeout makes it wait instead.
// synchronous(NORMAL) is SQLite's advice for WAL: a commit appends to the
// log without waiting for the disk (a checkpoint does), so the database
// stays consistent through any crash, and a power cut may lose the last
// commits, not corrupt it. FULL waited for an fsync at each of the dozen
// writes a build makes (a no-op sweep of 234 projects made 4,176).
func dsn(path string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// migrate brings the schema up to the newest embedded migration, after
// checking that the database is not newer than this binary: goose itself
// silently does nothing when the database holds versions it does not know.
func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
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

// Close closes the database. Readers returned by OpenLog fail afterwards.
func (s *Store) Close() error {
	s.lists.mu.Lock()
	if s.lists.version != nil {
		s.lists.version.Close()
	}
	s.lists.mu.Unlock()
	return s.db.Close()
}

// inTx runs f in a read-write (immediate) transaction and commits it when f
// succeeds.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isForeignKey reports whether err is a foreign key violation, which here
// always means the build referred to does not exist.
func isForeignKey(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFoundIf turns a foreign key violation into pipeline.ErrNotFound for
// the build id.
func notFoundIf(err error, buildID int64) error {
	if isForeignKey(err) {
		return fmt.Errorf("build %d: %w", buildID, pipeline.ErrNotFound)
	}
	return err
}

// nanos encodes t as Unix nanoseconds, and the zero time as NULL.
func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromNanos decodes what nanos encoded, in UTC.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
