package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// create stores a queued build of project and returns it.
func create(t *testing.T, s pipeline.Store, project string) pipeline.Build {
	t.Helper()
	b := pipeline.Build{Project: project, Status: pipeline.StatusQueued, Cause: "manual", Created: at(0, 1)}
	must(t, "CreateBuild", s.CreateBuild(ctx(t), &b))
	return b
}

func testBuildNumbering(t *testing.T, s pipeline.Store) {
	ids := map[int64]bool{}
	want := map[string]int{}
	for _, p := range []string{"a/x:latest", "b/y:1", "a/x:latest", "a/x:latest", "b/y:1"} {
		b := create(t, s, p)
		want[p]++
		if b.Number != want[p] {
			t.Errorf("build %d of %s: Number = %d, want %d", want[p], p, b.Number, want[p])
		}
		if b.ID == 0 || ids[b.ID] {
			t.Errorf("build %d of %s: ID %d is zero or not unique", want[p], p, b.ID)
		}
		ids[b.ID] = true
	}
}

func testBuildConcurrent(t *testing.T, s pipeline.Store) {
	const workers, each = 8, 5
	var mu sync.Mutex
	var numbers []int
	ids := map[int64]bool{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				b := pipeline.Build{Project: "a/x:latest", Status: pipeline.StatusQueued}
				if err := s.CreateBuild(ctx(t), &b); err != nil {
					t.Errorf("CreateBuild: %v", err)
					return
				}
				mu.Lock()
				numbers, ids[b.ID] = append(numbers, b.Number), true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(numbers)
	var want []int
	for i := range workers * each {
		want = append(want, i+1)
	}
	if d := diff(want, numbers); d != "" {
		t.Errorf("numbers of concurrently created builds (-want +got):\n%s", d)
	}
	if len(ids) != workers*each {
		t.Errorf("%d distinct IDs, want %d", len(ids), workers*each)
	}
}

func testBuildRoundTrip(t *testing.T, s pipeline.Store) {
	want := pipeline.Build{
		Project: "a/x:latest", Status: pipeline.StatusFailed, Cause: "push",
		Commit: "0123456789abcdef0123456789abcdef01234567", FailedStage: pipeline.StageTest,
		Reason: "check X failed", Image: "127.0.0.1:5000/a/x:latest", Digest: "sha256:abc",
		Created: at(1, 123456789), Started: at(2, 1), Finished: at(3, 999999999),
	}
	must(t, "CreateBuild", s.CreateBuild(ctx(t), &want))
	got, err := s.Build(ctx(t), want.ID)
	must(t, "Build", err)
	if d := diff(want, got); d != "" {
		t.Errorf("Build mismatch (-want +got):\n%s", d)
	}
	mustUTC(t, "Build", got.Created, got.Started, got.Finished)

	zero := create(t, s, "a/x:latest")
	zero.Created = time.Time{}
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), zero))
	got, err = s.Build(ctx(t), zero.ID)
	must(t, "Build", err)
	if !got.Created.IsZero() || !got.Started.IsZero() || !got.Finished.IsZero() {
		t.Errorf("zero times came back as %v, %v, %v", got.Created, got.Started, got.Finished)
	}
}

func testBuildUpdate(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	other := create(t, s, "a/x:latest")
	b.Status, b.Started, b.Finished = pipeline.StatusSucceeded, at(10, 5), at(20, 6)
	b.Commit, b.Image, b.Digest = "deadbeef", "reg/a/x:latest", "sha256:123"
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b))
	for _, want := range []pipeline.Build{b, other} {
		got, err := s.Build(ctx(t), want.ID)
		must(t, "Build", err)
		if d := diff(want, got); d != "" {
			t.Errorf("build %d after UpdateBuild (-want +got):\n%s", want.ID, d)
		}
	}
	missing := b
	missing.ID = b.ID + other.ID + 1000
	mustNotFound(t, "UpdateBuild of a missing build", s.UpdateBuild(ctx(t), missing))
}

func testBuildNotFound(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	_, err := s.Build(ctx(t), b.ID+1000)
	mustNotFound(t, "Build of a missing id", err)
}

func testBuildList(t *testing.T, s pipeline.Store) {
	for i := range 5 {
		create(t, s, "a/x:latest")
		if i < 2 {
			create(t, s, "b/y:latest")
		}
	}
	for _, tc := range []struct {
		project string
		limit   int
		want    []int
	}{
		{"a/x:latest", 0, []int{5, 4, 3, 2, 1}},
		{"a/x:latest", 2, []int{5, 4}},
		{"a/x:latest", 10, []int{5, 4, 3, 2, 1}},
		{"b/y:latest", 0, []int{2, 1}},
		{"c/none:latest", 0, nil},
	} {
		bs, err := s.Builds(ctx(t), tc.project, tc.limit)
		must(t, "Builds", err)
		var got []int
		for _, b := range bs {
			got = append(got, b.Number)
			if b.Project != tc.project {
				t.Errorf("Builds(%s) returned a build of %s", tc.project, b.Project)
			}
		}
		if d := diff(tc.want, got); d != "" {
			t.Errorf("Builds(%s, %d) numbers (-want +got):\n%s", tc.project, tc.limit, d)
		}
	}
}

func testStages(t *testing.T, s pipeline.Store) {
	b, other := create(t, s, "a/x:latest"), create(t, s, "a/x:latest")
	stage := func(id int64, n pipeline.StageName, st pipeline.Status) pipeline.Stage {
		return pipeline.Stage{BuildID: id, Name: n, Status: st, Started: at(1, 2)}
	}
	for i, n := range slices.Backward(pipeline.Stages) {
		must(t, "PutStage", s.PutStage(ctx(t), stage(b.ID, n, pipeline.StatusQueued)))
		if i%2 == 0 {
			must(t, "PutStage", s.PutStage(ctx(t), stage(other.ID, n, pipeline.StatusSkipped)))
		}
	}
	replaced := stage(b.ID, pipeline.StageBuild, pipeline.StatusFailed)
	replaced.Finished, replaced.Error = at(5, 999), "The command '/bin/sh -c false' returned a non-zero code: 1"
	must(t, "PutStage replace", s.PutStage(ctx(t), replaced))

	var want []pipeline.Stage
	for _, n := range pipeline.Stages {
		want = append(want, stage(b.ID, n, pipeline.StatusQueued))
		if n == pipeline.StageBuild {
			want[len(want)-1] = replaced
		}
	}
	got, err := s.Stages(ctx(t), b.ID)
	must(t, "Stages", err)
	if d := diff(want, got); d != "" {
		t.Errorf("Stages (-want +got):\n%s", d)
	}
	for _, st := range got {
		mustUTC(t, fmt.Sprintf("stage %s", st.Name), st.Started, st.Finished)
	}
	got, err = s.Stages(ctx(t), other.ID)
	must(t, "Stages of the other build", err)
	if len(got) != (len(pipeline.Stages)+1)/2 {
		t.Errorf("Stages of the other build: %d, want %d", len(got), (len(pipeline.Stages)+1)/2)
	}
}

func testStageMissingBuild(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	st := pipeline.Stage{BuildID: b.ID + 1000, Name: pipeline.StageBuild, Status: pipeline.StatusRunning}
	mustNotFound(t, "PutStage of a missing build", s.PutStage(ctx(t), st))
	got, err := s.Stages(ctx(t), b.ID)
	must(t, "Stages of a build without stages", err)
	if len(got) != 0 {
		t.Errorf("Stages of a build without stages: %v", got)
	}
}

func testLastBuilds(t *testing.T, s pipeline.Store) {
	got, err := s.LastBuilds(ctx(t))
	must(t, "LastBuilds of an empty store", err)
	if len(got) != 0 {
		t.Errorf("LastBuilds of an empty store: %v", got)
	}
	want := map[string]pipeline.Build{}
	for _, p := range []string{"a/x:latest", "b/y:1", "a/x:latest", "c/z:2", "a/x:latest", "b/y:1"} {
		want[p] = create(t, s, p)
	}
	got, err = s.LastBuilds(ctx(t))
	must(t, "LastBuilds", err)
	if d := diff(want, got); d != "" {
		t.Errorf("LastBuilds (-want +got):\n%s", d)
	}
}

// printed is what a script may print, and so end up in a build's reason or
// a stage's error: a NUL byte and bytes that are not UTF-8.
const printed = "exit 1: \x00 \xff\xfe héllo"

// testBuildAnyBytes stores a reason and a stage error holding printed:
// they come back byte for byte.
func testBuildAnyBytes(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	b.Status, b.Reason = pipeline.StatusFailed, printed
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b))
	got, err := s.Build(ctx(t), b.ID)
	must(t, "Build", err)
	if got.Reason != printed {
		t.Errorf("reason = %q, want %q", got.Reason, printed)
	}
	st := pipeline.Stage{BuildID: b.ID, Name: pipeline.StageBuild, Status: pipeline.StatusFailed, Error: printed}
	must(t, "PutStage", s.PutStage(ctx(t), st))
	stages, err := s.Stages(ctx(t), b.ID)
	must(t, "Stages", err)
	if d := diff([]pipeline.Stage{st}, stages); d != "" {
		t.Errorf("stages (-want +got):\n%s", d)
	}
}
