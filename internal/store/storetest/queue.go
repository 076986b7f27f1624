package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// enqueue queues a build of project and returns it and whether it joined.
func enqueue(t *testing.T, s pipeline.Store, project string) (pipeline.Build, bool) {
	t.Helper()
	b, joined, err := s.Enqueue(ctx(t), project, "push", at(5, 6))
	must(t, "Enqueue", err)
	return b, joined
}

// claim claims a build and fails the test now when there is none.
func claim(t *testing.T, s pipeline.Store) pipeline.Build {
	t.Helper()
	b, err := s.Claim(ctx(t), at(7, 8))
	must(t, "Claim", err)
	return b
}

// ids lists the IDs of bs.
func ids(bs []pipeline.Build) []int64 {
	var out []int64
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

func testEnqueueJoins(t *testing.T, s pipeline.Store) {
	first, joined := enqueue(t, s, "a/x:latest")
	want := pipeline.Build{ID: first.ID, Project: "a/x:latest", Number: 1, Attempt: 1,
		Status: pipeline.StatusQueued, Cause: "push", Created: at(5, 6)}
	if d := diff(want, first); d != "" || joined {
		t.Errorf("first Enqueue: joined %v (-want +got):\n%s", joined, d)
	}
	mustUTC(t, "Enqueue", first.Created)
	stored, err := s.Build(ctx(t), first.ID)
	must(t, "Build", err)
	if d := diff(want, stored); d != "" {
		t.Errorf("stored queued build (-want +got):\n%s", d)
	}
	again, joined, err := s.Enqueue(ctx(t), "a/x:latest", "parent rebuilt", at(9, 0))
	must(t, "Enqueue again", err)
	if d := diff(want, again); d != "" || !joined {
		t.Errorf("second Enqueue: joined %v, want true (-want +got):\n%s", joined, d)
	}
	other, joined := enqueue(t, s, "b/y:latest")
	if joined || other.ID == first.ID || other.Number != 1 {
		t.Errorf("Enqueue of another project: joined %v, %+v", joined, other)
	}
	claim(t, s) // a/x is running now, not queued: the next Enqueue queues anew
	next, joined := enqueue(t, s, "a/x:latest")
	if joined || next.Number != 2 {
		t.Errorf("Enqueue while running: joined %v, number %d; want false, 2", joined, next.Number)
	}
}

func testEnqueueNumbering(t *testing.T, s pipeline.Store) {
	for range 2 { // as hoist run records its builds: never queued
		done := pipeline.Build{Project: "a/x:latest", Status: pipeline.StatusSucceeded}
		must(t, "CreateBuild", s.CreateBuild(ctx(t), &done))
	}
	b, joined := enqueue(t, s, "a/x:latest")
	if joined || b.Number != 3 {
		t.Errorf("Enqueue after two CreateBuild: joined %v, number %d; want false, 3", joined, b.Number)
	}
	_, err := s.CancelQueued(ctx(t), b.ID, "test", at(6, 0))
	must(t, "CancelQueued", err)
	c := pipeline.Build{Project: "a/x:latest", Status: pipeline.StatusRunning}
	must(t, "CreateBuild", s.CreateBuild(ctx(t), &c))
	if c.Number != 4 {
		t.Errorf("CreateBuild after Enqueue: number %d, want 4", c.Number)
	}
}

func testClaimOrder(t *testing.T, s pipeline.Store) {
	_, err := s.Claim(ctx(t), at(0, 0))
	mustNotFound(t, "Claim of an empty queue", err)
	var want []int64
	for _, p := range []string{"c/z:latest", "a/x:latest", "b/y:latest"} {
		b, _ := enqueue(t, s, p)
		want = append(want, b.ID)
	}
	var got []int64
	for range want {
		b := claim(t, s)
		if b.Status != pipeline.StatusRunning || !b.Started.Equal(at(7, 8)) {
			t.Errorf("claimed build: status %s, started %v", b.Status, b.Started)
		}
		mustUTC(t, "Claim", b.Started)
		stored, err := s.Build(ctx(t), b.ID)
		must(t, "Build", err)
		if d := diff(b, stored); d != "" {
			t.Errorf("stored claimed build (-returned +stored):\n%s", d)
		}
		got = append(got, b.ID)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("claimed IDs (-want +got):\n%s", d)
	}
	_, err = s.Claim(ctx(t), at(0, 0))
	mustNotFound(t, "Claim when all are running", err)
}

func testClaimSkipsRunning(t *testing.T, s pipeline.Store) {
	a1, _ := enqueue(t, s, "a/x:latest")
	if got := claim(t, s); got.ID != a1.ID {
		t.Fatalf("Claim = build %d, want %d", got.ID, a1.ID)
	}
	a2, _ := enqueue(t, s, "a/x:latest")
	b1, _ := enqueue(t, s, "b/y:latest")
	if got := claim(t, s); got.ID != b1.ID {
		t.Errorf("Claim = build %d, want %d of the project with nothing running", got.ID, b1.ID)
	}
	_, err := s.Claim(ctx(t), at(0, 0))
	mustNotFound(t, "Claim while a/x runs", err)

	a1.Status = pipeline.StatusSucceeded
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), a1))
	if got := claim(t, s); got.ID != a2.ID {
		t.Errorf("Claim after a/x finished = build %d, want %d", got.ID, a2.ID)
	}
}

func testClaimConcurrent(t *testing.T, s pipeline.Store) {
	const workers, builds = 8, 40
	var want []int64
	for i := range builds {
		b, _ := enqueue(t, s, fmt.Sprintf("p/n%02d:latest", i))
		want = append(want, b.ID)
	}
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				b, err := s.Claim(ctx(t), at(1, 0))
				if errors.Is(err, pipeline.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				mu.Lock()
				got = append(got, b.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	if d := diff(want, got); d != "" {
		t.Errorf("IDs claimed by %d concurrent claimers (-want +got):\n%s", workers, d)
	}
}

func testCancelQueued(t *testing.T, s pipeline.Store) {
	running, _ := enqueue(t, s, "a/x:latest")
	claim(t, s)
	queued, _ := enqueue(t, s, "b/y:latest")

	ok, err := s.CancelQueued(ctx(t), queued.ID, "cancelled by alice", at(9, 9))
	must(t, "CancelQueued", err)
	if !ok {
		t.Errorf("CancelQueued of a queued build = false, want true")
	}
	got, err := s.Build(ctx(t), queued.ID)
	must(t, "Build", err)
	want := queued
	want.Status, want.Reason, want.Finished = pipeline.StatusCancelled, "cancelled by alice", at(9, 9)
	if d := diff(want, got); d != "" {
		t.Errorf("cancelled build (-want +got):\n%s", d)
	}
	for _, id := range []int64{running.ID, queued.ID, queued.ID + 1000} {
		ok, err := s.CancelQueued(ctx(t), id, "again", at(10, 0))
		must(t, "CancelQueued", err)
		if ok {
			t.Errorf("CancelQueued of build %d (not queued) = true, want false", id)
		}
	}
	got, err = s.Build(ctx(t), running.ID)
	must(t, "Build", err)
	if got.Status != pipeline.StatusRunning {
		t.Errorf("running build after CancelQueued: status %s", got.Status)
	}
}

func testActive(t *testing.T, s pipeline.Store) {
	done := create(t, s, "a/x:latest")
	done.Status = pipeline.StatusSucceeded
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), done))
	run, _ := enqueue(t, s, "b/y:latest")
	claim(t, s)
	q1, _ := enqueue(t, s, "c/z:latest")
	cancelled, _ := enqueue(t, s, "d/w:latest")
	_, err := s.CancelQueued(ctx(t), cancelled.ID, "no", at(1, 0))
	must(t, "CancelQueued", err)
	q2, _ := enqueue(t, s, "a/x:latest")

	got, err := s.Active(ctx(t))
	must(t, "Active", err)
	if d := diff([]int64{run.ID, q1.ID, q2.ID}, ids(got)); d != "" {
		t.Errorf("Active IDs (-want +got):\n%s", d)
	}
}

func testFailRunning(t *testing.T, s pipeline.Store) {
	a, _ := enqueue(t, s, "a/x:latest")
	b, _ := enqueue(t, s, "b/y:latest")
	claim(t, s)
	claim(t, s)
	q, _ := enqueue(t, s, "c/z:latest")
	stage := func(id int64, n pipeline.StageName, st pipeline.Status) pipeline.Stage {
		return pipeline.Stage{BuildID: id, Name: n, Status: st, Started: at(8, 0)}
	}
	ok := stage(a.ID, pipeline.StageCheckout, pipeline.StatusSucceeded)
	ok.Finished = at(8, 5)
	for _, st := range []pipeline.Stage{ok, stage(a.ID, pipeline.StageBuild, pipeline.StatusRunning)} {
		must(t, "PutStage", s.PutStage(ctx(t), st))
	}

	n, err := s.FailRunning(ctx(t), "server restarted", at(20, 0))
	must(t, "FailRunning", err)
	if n != 2 {
		t.Errorf("FailRunning = %d, want 2", n)
	}
	for _, id := range []int64{a.ID, b.ID} {
		got, err := s.Build(ctx(t), id)
		must(t, "Build", err)
		if got.Status != pipeline.StatusFailed || got.Reason != "server restarted" || !got.Finished.Equal(at(20, 0)) {
			t.Errorf("build %d after FailRunning: %s, %q, finished %v", id, got.Status, got.Reason, got.Finished)
		}
	}
	if got, err := s.Build(ctx(t), q.ID); err != nil || got.Status != pipeline.StatusQueued {
		t.Errorf("queued build after FailRunning: %s, %v; want queued", got.Status, err)
	}
	stages, err := s.Stages(ctx(t), a.ID)
	must(t, "Stages", err)
	failed := stage(a.ID, pipeline.StageBuild, pipeline.StatusFailed)
	failed.Error = "server restarted"
	if len(stages) == 2 {
		failed.Finished = stages[1].Finished // backends may or may not set it
	}
	if d := diff([]pipeline.Stage{ok, failed}, stages); d != "" {
		t.Errorf("stages after FailRunning (-want +got):\n%s", d)
	}
	if n, err := s.FailRunning(ctx(t), "again", at(21, 0)); err != nil || n != 0 {
		t.Errorf("FailRunning again = %d, %v; want 0, nil", n, err)
	}
}
