package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pipeline.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "sub", "dir", "hoist.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// countMigrations counts the rows of goose's version table.
func countMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM goose_db_version`).Scan(&n); err != nil {
		t.Fatalf("counting migrations: %v", err)
	}
	return n
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weird ?#% name.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	p := pipeline.Project{AppID: "a", JobID: "x", Tag: "latest", GitURL: "u"}
	if err := s.PutProject(t.Context(), p); err != nil {
		t.Fatalf("PutProject: %v", err)
	}
	b := pipeline.Build{Project: p.Key()}
	if err := s.CreateBuild(t.Context(), &b); err != nil {
		t.Fatalf("CreateBuild: %v", err)
	}
	before := countMigrations(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer s.Close()
	if after := countMigrations(t, s); after != before {
		t.Errorf("reopening changed goose_db_version from %d to %d rows", before, after)
	}
	if _, err := s.Project(t.Context(), p.Key()); err != nil {
		t.Errorf("project after reopening: %v", err)
	}
	b2 := pipeline.Build{Project: p.Key()}
	if err := s.CreateBuild(t.Context(), &b2); err != nil || b2.Number != 2 {
		t.Errorf("CreateBuild after reopening: number %d, err %v; want 2, nil", b2.Number, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, err = s.db.ExecContext(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`)
	s.Close()
	if err != nil {
		t.Fatalf("recording a future migration: %v", err)
	}
	s, err = Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer hoist: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, "99999 is newer than this hoist supports") {
		t.Errorf("error = %q, want it to say the schema is newer", msg)
	}
}

func TestDSN(t *testing.T) {
	got := dsn("/var/lib/hoist/a?b#c%d.db")
	want := "file:/var/lib/hoist/a%3fb%23c%25d.db?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
	if got != want {
		t.Errorf("dsn = %q, want %q", got, want)
	}
}

func TestPragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1", "busy_timeout": "5000"} {
		var got string
		if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestSharedConformance(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (pipeline.Store, pipeline.Store) {
		path := filepath.Join(t.TempDir(), "hoist.db")
		a, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		b, err := Open(t.Context(), path)
		if err != nil {
			a.Close()
			t.Fatalf("Open a second handle: %v", err)
		}
		return a, b
	})
}
