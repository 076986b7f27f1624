package postgres

import (
	"strings"
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/storetest"
	"github.com/hoistci/hoist/internal/testenv"
)

func TestMain(m *testing.M) { testenv.MainWithPostgres(m) }

// open opens a store on a new database.
func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pipeline.Store { return open(t) })
}

func TestNotifyConformance(t *testing.T) {
	storetest.RunNotify(t, func(t *testing.T) storetest.NotifyBackend { return open(t) })
}

func TestIndexTrackingConformance(t *testing.T) {
	storetest.RunIndexTracking(t, func(t *testing.T) storetest.IndexTrackingStore { return open(t) })
}

// countMigrations counts the rows of goose's version table.
func countMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM goose_db_version`).Scan(&n); err != nil {
		t.Fatalf("counting migrations: %v", err)
	}
	return n
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	url := testenv.Postgres(t)
	s, err := Open(t.Context(), url)
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
	s.Close()

	s, err = Open(t.Context(), url)
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
	url := testenv.Postgres(t)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, err = s.pool.Exec(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, TRUE)`)
	s.Close()
	if err != nil {
		t.Fatalf("recording a future migration: %v", err)
	}
	s, err = Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer hoist: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, "99999 is newer than this hoist supports") {
		t.Errorf("error = %q, want it to say the schema is newer", msg)
	}
}

// TestConcurrentOpen opens one new database from several servers at once,
// as replicas starting together do: each gets a store, and the schema is
// migrated once.
func TestConcurrentOpen(t *testing.T) {
	url := testenv.Postgres(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	for i := range stores {
		wg.Go(func() {
			s, err := Open(t.Context(), url)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			defer s.Close()
		}
	}
	files, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if stores[0] != nil {
		var n int
		if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n); err != nil || n != len(files) {
			t.Errorf("migrations recorded: %d (%v), want %d, each once", n, err, len(files))
		}
	}
}

func TestListVersionConformance(t *testing.T) {
	storetest.RunListVersion(t, func(t *testing.T) storetest.ListVersionStore { return open(t) })
}

func TestSharedConformance(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (pipeline.Store, pipeline.Store) {
		url := testenv.Postgres(t)
		a, err := Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		b, err := Open(t.Context(), url)
		if err != nil {
			a.Close()
			t.Fatalf("Open a second handle: %v", err)
		}
		return a, b
	})
}
