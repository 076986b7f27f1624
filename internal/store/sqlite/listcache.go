package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The lists every page of projects reads (the projects, the newest build
// of each, the delivered images) are kept in memory with the list version
// they were read at, and read again only when it has changed: migration
// 00014's triggers count every write to projects, builds and images in
// the writing transaction, whichever process writes, so a version read
// before the lists says whether they can have changed since.

// listCache holds the lists last read, each with its version.
type listCache struct {
	mu       sync.Mutex
	version  *sql.Stmt // ListVersion's query, prepared at its first call
	projects versioned[[]pipeline.Project]
	last     versioned[map[string]pipeline.Build]
	images   versioned[[]pipeline.DeliveredImage]
}

// versioned is a list as it was at a list version.
type versioned[T any] struct {
	ok      bool
	version int64
	value   T
}

// ListVersion returns a number that changes whenever a project, a build,
// a delivered image, a scan or a project's FROM images are written, by
// this process or another (migrations 00014 and 00019): what the lists
// and pages made of them show is the same as long as it is.
func (s *Store) ListVersion(ctx context.Context) (int64, error) {
	var row *sql.Row
	if stmt := s.listVersionStmt(ctx); stmt != nil {
		row = stmt.QueryRowContext(ctx)
	} else {
		row = s.db.QueryRowContext(ctx, listVersionQuery)
	}
	var n int64
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the list version: %w", err)
	}
	return n, nil
}

const listVersionQuery = `SELECT n FROM list_version`

// listVersionStmt is ListVersion's query, prepared once (nil when that
// failed): every page and list read asks it, and SQLite parsing it again
// each time cost more than running it.
func (s *Store) listVersionStmt(ctx context.Context) *sql.Stmt {
	s.lists.mu.Lock()
	defer s.lists.mu.Unlock()
	if s.lists.version == nil {
		stmt, err := s.db.PrepareContext(ctx, listVersionQuery)
		if err != nil {
			return nil
		}
		s.lists.version = stmt
	}
	return s.lists.version
}

// cachedList returns a copy (made by clone) of the list c keeps, when it
// was read at the current list version, else reads it with load and keeps
// it. The version is read first: a list read after it is at least that
// new, so a write between the two only makes the next call read again.
func cachedList[T any](ctx context.Context, s *Store, c *versioned[T], load func(context.Context) (T, error), clone func(T) T) (T, error) {
	v, err := s.ListVersion(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	s.lists.mu.Lock()
	if c.ok && c.version == v {
		value := c.value
		s.lists.mu.Unlock()
		return clone(value), nil
	}
	s.lists.mu.Unlock()
	value, err := load(ctx)
	if err != nil {
		return value, err
	}
	s.lists.mu.Lock()
	if !c.ok || c.version <= v {
		*c = versioned[T]{ok: true, version: v, value: value}
	}
	s.lists.mu.Unlock()
	return clone(value), nil
}

// Projects lists every project, ordered by key.
func (s *Store) Projects(ctx context.Context) ([]pipeline.Project, error) {
	ps, err := cachedList(ctx, s, &s.lists.projects, s.loadProjects, func(ps []pipeline.Project) []pipeline.Project {
		out := slices.Clone(ps)
		for i := range out {
			out[i].DependsOn = slices.Clone(out[i].DependsOn)
		}
		return out
	})
	return ps, err
}

// LastBuilds maps each project key to its newest build (highest number);
// projects without builds are absent.
func (s *Store) LastBuilds(ctx context.Context) (map[string]pipeline.Build, error) {
	last, err := cachedList(ctx, s, &s.lists.last, s.loadLastBuilds, maps.Clone[map[string]pipeline.Build])
	return last, err
}

// Images lists delivered images, newest first (ties by reference).
func (s *Store) Images(ctx context.Context) ([]pipeline.DeliveredImage, error) {
	images, err := cachedList(ctx, s, &s.lists.images, s.loadImages, slices.Clone[[]pipeline.DeliveredImage])
	return images, err
}
