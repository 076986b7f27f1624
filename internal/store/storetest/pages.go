package storetest

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// numbers are the numbers of bs, in order.
func numbers(bs []pipeline.Build) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.Number)
	}
	return out
}

func testBuildNumber(t *testing.T, s pipeline.Store) {
	var want pipeline.Build
	for i := range 3 {
		b := create(t, s, "a/x:latest")
		if i == 1 {
			want = b
		}
		create(t, s, "a/x:latest-rc") // a key the first one is a prefix of
	}
	got, err := s.BuildNumber(ctx(t), "a/x:latest", 2)
	must(t, "BuildNumber", err)
	if d := diff(want, got); d != "" {
		t.Errorf("BuildNumber(a/x:latest, 2) (-want +got):\n%s", d)
	}
	_, err = s.BuildNumber(ctx(t), "a/x:latest", 4)
	mustNotFound(t, "BuildNumber of a number not given yet", err)
	_, err = s.BuildNumber(ctx(t), "a/x", 1)
	mustNotFound(t, "BuildNumber of a project without builds", err)
}

func testBuildsBefore(t *testing.T, s pipeline.Store) {
	for i := range 5 {
		create(t, s, "a/x:latest")
		if i < 2 {
			create(t, s, "a/x:latest-rc")
		}
	}
	for _, tc := range []struct {
		project       string
		before, limit int
		want          []int
	}{
		{"a/x:latest", 0, 0, []int{5, 4, 3, 2, 1}},
		{"a/x:latest", 0, 2, []int{5, 4}},
		{"a/x:latest", 4, 2, []int{3, 2}},
		{"a/x:latest", 2, 2, []int{1}},
		{"a/x:latest", 1, 2, nil},
		{"a/x:latest", 4, 0, []int{3, 2, 1}},
		{"a/x:latest", 99, 1, []int{5}},
		{"a/x:latest-rc", 0, 10, []int{2, 1}},
		{"a/x", 0, 10, nil},
	} {
		bs, err := s.BuildsBefore(ctx(t), tc.project, tc.before, tc.limit)
		must(t, "BuildsBefore", err)
		for _, b := range bs {
			if b.Project != tc.project {
				t.Errorf("BuildsBefore(%s) returned a build of %s", tc.project, b.Project)
			}
		}
		if d := diff(tc.want, numbers(bs)); d != "" {
			t.Errorf("BuildsBefore(%s, %d, %d) numbers (-want +got):\n%s", tc.project, tc.before, tc.limit, d)
		}
	}
}

// testBuildsBeforePaging walks a history a page at a time while builds
// are added between pages: the pages hold every build there was when the
// walk began exactly once, newest first, and none added later.
func testBuildsBeforePaging(t *testing.T, s pipeline.Store) {
	const n = 11
	for range n {
		create(t, s, "a/x:latest")
	}
	var seen []int
	before := 0
	for page := 0; ; page++ {
		bs, err := s.BuildsBefore(ctx(t), "a/x:latest", before, 3)
		must(t, "BuildsBefore", err)
		if len(bs) == 0 {
			break
		}
		if page > n {
			t.Fatalf("more than %d pages of 3 of %d builds", page, n)
		}
		seen = append(seen, numbers(bs)...)
		before = bs[len(bs)-1].Number
		create(t, s, "a/x:latest") // a new build between two pages
		create(t, s, "b/y:latest")
	}
	var want []int
	for i := n; i >= 1; i-- {
		want = append(want, i)
	}
	if d := diff(want, seen); d != "" {
		t.Errorf("the pages' numbers (-want +got):\n%s", d)
	}
	bs, err := s.BuildsBefore(ctx(t), "a/x:latest", 0, 1)
	must(t, "BuildsBefore", err)
	if len(bs) != 1 || bs[0].Number <= n {
		t.Errorf("the first page after the walk = %v, want the newest build, numbered above %d", numbers(bs), n)
	}
}

// testLastBuildsKeys checks LastBuilds on keys that are prefixes of each
// other, for builds whose projects are not stored (as after
// DeleteProject, which keeps the builds).
func testLastBuildsKeys(t *testing.T, s pipeline.Store) {
	want := map[string]pipeline.Build{}
	for range 3 {
		for _, p := range []string{"a/x:1", "a/x:10", "a/x:1-rc", "a/x", "b/y:latest"} {
			want[p] = create(t, s, p)
		}
	}
	b := want["a/x:10"]
	b.Status = pipeline.StatusFailed
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b))
	want["a/x:10"] = b
	got, err := s.LastBuilds(ctx(t))
	must(t, "LastBuilds", err)
	if d := diff(want, got); d != "" {
		t.Errorf("LastBuilds (-want +got):\n%s", d)
	}
}
