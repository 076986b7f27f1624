package storetest

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// IndexTrackingStore is what index tracking needs of a backend.
type IndexTrackingStore interface {
	pipeline.Store
	pipeline.ReconcileStore
}

// RunIndexTracking runs the index-tracking part of the suite: disabled
// projects and the record of reconciles. open must return a new, empty
// store for each call.
func RunIndexTracking(t *testing.T, open func(t *testing.T) IndexTrackingStore) {
	tests := []struct {
		name string
		f    func(t *testing.T, s IndexTrackingStore)
	}{
		{"Project/Disabled", testProjectDisabled},
		{"Reconcile/RoundTrip", testReconcileRoundTrip},
		{"Reconcile/Limit", testReconcileLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.f(t, s)
		})
	}
}

func testProjectDisabled(t *testing.T, s IndexTrackingStore) {
	p := fullProject()
	p.Disabled = true
	must(t, "PutProject", s.PutProject(ctx(t), p))
	got, err := s.Project(ctx(t), p.Key())
	must(t, "Project", err)
	if !got.Disabled {
		t.Errorf("Project(%q).Disabled = false after storing it disabled", p.Key())
	}
	p.Disabled = false
	must(t, "PutProject enabled", s.PutProject(ctx(t), p))
	if got, err = s.Project(ctx(t), p.Key()); err != nil || got.Disabled {
		t.Errorf("Project(%q) after re-enabling: Disabled = %v, err = %v; want false, nil", p.Key(), got.Disabled, err)
	}
}

func testReconcileRoundTrip(t *testing.T, s IndexTrackingStore) {
	want := []pipeline.Reconcile{
		{Time: at(1, 5), Revision: "abc123", Added: []string{"a/new:latest"},
			Changed: []pipeline.ProjectChange{{Key: "a/one:latest", Fields: []pipeline.FieldChange{{Field: "git-branch", Old: "master", New: "main"}}}},
			Removed: []string{"a/gone:latest"}},
		{Time: at(2, 0), Revision: "def456", Errors: []string{"index.d/a.yaml:3:5: git-url is missing"}},
	}
	for i := range want {
		must(t, "RecordReconcile", s.RecordReconcile(ctx(t), &want[i]))
		if want[i].ID == 0 {
			t.Errorf("RecordReconcile left ID 0")
		}
	}
	got, err := s.Reconciles(ctx(t), 0)
	must(t, "Reconciles", err)
	for i := range want {
		want[i].Time = want[i].Time.UTC()
	}
	if d := diff([]pipeline.Reconcile{want[1], want[0]}, got); d != "" {
		t.Errorf("Reconciles mismatch (-want +got):\n%s", d)
	}
	for _, r := range got {
		mustUTC(t, "reconcile time", r.Time)
	}
}

func testReconcileLimit(t *testing.T, s IndexTrackingStore) {
	for i := range 3 {
		r := pipeline.Reconcile{Time: at(int64(i), 0), Revision: string(rune('a' + i))}
		must(t, "RecordReconcile", s.RecordReconcile(ctx(t), &r))
	}
	got, err := s.Reconciles(ctx(t), 2)
	must(t, "Reconciles", err)
	if len(got) != 2 || got[0].Revision != "c" || got[1].Revision != "b" {
		t.Errorf("Reconciles(2) = %+v, want revisions c, b", got)
	}
}
