package sqlite

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// fullScan matches a query plan step that reads the whole builds table
// (or a whole index of it) rather than a range of an index.
var fullScan = regexp.MustCompile(`^SCAN (builds|b)\b`)

// TestListQueryPlans holds the queries of lists to a cost that does not
// grow with the history: SQLite's plan for each searches an index of
// builds and never scans the table. (A long history cannot be timed in a
// unit test; the plan says the same thing deterministically.)
func TestListQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{"a/x:latest", "b/y:latest", "a/x:latest", "c/z:1"} {
		b := pipeline.Build{Project: p, Status: pipeline.StatusSucceeded}
		if err := s.CreateBuild(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		query string
		args  []any
	}{
		{"BuildNumber", buildNumberQuery, []any{"a/x:latest", 2}},
		{"BuildsBefore", buildsBeforeQuery, []any{"a/x:latest", 10, 5}},
		{"LastBuilds", lastBuildsQuery, nil},
	} {
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, step := range plan {
			if fullScan.MatchString(step) {
				t.Errorf("%s scans the builds table (%q), so it slows down as the history grows; plan:\n%s", tc.name, step, strings.Join(plan, "\n"))
			}
		}
	}
}
