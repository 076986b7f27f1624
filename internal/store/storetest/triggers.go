package storetest

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

const (
	shaA = "aaaaaaa111111111111111111111111111111111"
	shaB = "bbbbbbb222222222222222222222222222222222"
	shaC = "ccccccc333333333333333333333333333333333"
)

// enqueueCommit queues a build of project at commit, from a push that does
// not say what the branch pointed at before, and checks the outcome.
func enqueueCommit(t *testing.T, s pipeline.Store, project, commit string, want pipeline.EnqueueOutcome) pipeline.Build {
	t.Helper()
	return enqueuePush(t, s, project, "", commit, want)
}

// enqueuePush queues a build of project for a push from before to commit
// and checks the outcome.
func enqueuePush(t *testing.T, s pipeline.Store, project, before, commit string, want pipeline.EnqueueOutcome) pipeline.Build {
	t.Helper()
	b, out, err := s.EnqueueCommit(ctx(t), project, commit, before, pipeline.PushCause(commit, "main"), at(5, 6))
	must(t, "EnqueueCommit", err)
	if out != want {
		t.Fatalf("EnqueueCommit(%s, %.7s) = %s, want %s (build %+v)", project, commit, out, want, b)
	}
	return b
}

func testEnqueueCommitDedupe(t *testing.T, s pipeline.Store) {
	const p = "a/x:latest"
	first := enqueueCommit(t, s, p, shaA, pipeline.EnqueueQueued)
	want := pipeline.Build{ID: first.ID, Project: p, Number: 1, Attempt: 1, Status: pipeline.StatusQueued,
		Cause: "git push aaaaaaa to main", Commit: shaA, Created: at(5, 6)}
	if d := diff(want, first); d != "" {
		t.Errorf("queued build (-want +got):\n%s", d)
	}
	if again := enqueueCommit(t, s, p, shaA[:7], pipeline.EnqueueDuplicate); again.ID != first.ID {
		t.Errorf("redelivery returned build %d, want the queued %d", again.ID, first.ID)
	}
	claim(t, s)
	enqueueCommit(t, s, p, shaA, pipeline.EnqueueDuplicate) // running
	ran, err := s.Build(ctx(t), first.ID)
	must(t, "Build", err)
	ran.Status, ran.FailedStage = pipeline.StatusFailed, pipeline.StageBuild
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), ran))
	enqueueCommit(t, s, p, shaA, pipeline.EnqueueDuplicate) // it ran: no rebuild of one commit

	second := enqueueCommit(t, s, p, shaB, pipeline.EnqueueQueued)
	if second.Number != 2 || second.Commit != shaB {
		t.Errorf("build of a new commit: %+v, want number 2 at %s", second, shaB)
	}
	if old := enqueueCommit(t, s, p, shaA, pipeline.EnqueueDuplicate); old.ID != first.ID {
		t.Errorf("the built commit again returned build %d, want %d", old.ID, first.ID)
	}
	joined := enqueueCommit(t, s, p, shaC, pipeline.EnqueueJoined)
	if joined.ID != second.ID || joined.Commit != shaC {
		t.Errorf("joined build %+v, want build %d now at %s", joined, second.ID, shaC)
	}
	stored, err := s.Build(ctx(t), second.ID)
	must(t, "Build", err)
	if stored.Commit != shaC {
		t.Errorf("joined build stored at commit %q, want %s", stored.Commit, shaC)
	}
}

// testEnqueueCommitReplay replays the delivery of an older push after a
// newer commit was built: the older commit, built before, queues nothing.
func testEnqueueCommitReplay(t *testing.T, s pipeline.Store) {
	const p = "a/x:latest"
	first := enqueueCommit(t, s, p, shaA, pipeline.EnqueueQueued)
	finishClaimed(t, s, first.ID, pipeline.StatusSucceeded)
	second := enqueueCommit(t, s, p, shaB, pipeline.EnqueueQueued)
	finishClaimed(t, s, second.ID, pipeline.StatusSucceeded)
	for range 2 {
		if again := enqueueCommit(t, s, p, shaA, pipeline.EnqueueDuplicate); again.ID != first.ID {
			t.Errorf("replay of %.7s returned build %d, want build %d, which built it", shaA, again.ID, first.ID)
		}
	}
	// A replay that says where the branch was before (the commit before A)
	// is still a replay.
	enqueuePush(t, s, p, shaC, shaA, pipeline.EnqueueDuplicate)
	if bs, err := s.Builds(ctx(t), p, 0); err != nil || len(bs) != 2 {
		t.Errorf("after replays: %d builds (%v), want 2", len(bs), err)
	}
}

// testEnqueueCommitForcedBack force-pushes the branch back from the commit
// built last to one built earlier: that push builds it again, once.
func testEnqueueCommitForcedBack(t *testing.T, s pipeline.Store) {
	const p = "a/x:latest"
	first := enqueueCommit(t, s, p, shaA, pipeline.EnqueueQueued)
	finishClaimed(t, s, first.ID, pipeline.StatusSucceeded)
	second := enqueuePush(t, s, p, shaA, shaB, pipeline.EnqueueQueued)
	finishClaimed(t, s, second.ID, pipeline.StatusSucceeded)
	back := enqueuePush(t, s, p, shaB, shaA, pipeline.EnqueueQueued)
	if back.Number != 3 || back.Commit != shaA {
		t.Errorf("force-push back to %.7s: %+v, want build #3 of it", shaA, back)
	}
	// Its delivery again, while queued, and after it ran: no more builds.
	if again := enqueuePush(t, s, p, shaB, shaA, pipeline.EnqueueDuplicate); again.ID != back.ID {
		t.Errorf("the force-push delivered again returned build %d, want %d", again.ID, back.ID)
	}
	finishClaimed(t, s, back.ID, pipeline.StatusSucceeded)
	enqueuePush(t, s, p, shaB, shaA, pipeline.EnqueueDuplicate)
	if bs, err := s.Builds(ctx(t), p, 0); err != nil || len(bs) != 3 {
		t.Errorf("after the force-push back: %d builds (%v), want 3", len(bs), err)
	}
}

// finishClaimed claims the queued build with id and ends it with status.
func finishClaimed(t *testing.T, s pipeline.Store, id int64, status pipeline.Status) {
	t.Helper()
	if b := claim(t, s); b.ID != id {
		t.Fatalf("claimed build %d, want %d", b.ID, id)
	}
	b, err := s.Build(ctx(t), id)
	must(t, "Build", err)
	b.Status, b.Finished = status, at(5, 7)
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b))
}

func testEnqueueCommitAfterStartFailure(t *testing.T, s pipeline.Store) {
	const p = "a/x:latest"
	first := enqueueCommit(t, s, p, shaA, pipeline.EnqueueQueued)
	ok, err := s.CancelQueued(ctx(t), first.ID, "cancelled by ann", at(6, 0))
	must(t, "CancelQueued", err)
	if !ok {
		t.Fatal("CancelQueued: the queued build was not cancelled")
	}
	second := enqueueCommit(t, s, p, shaA, pipeline.EnqueueQueued)
	if second.ID == first.ID {
		t.Errorf("after a cancel the same commit joined the cancelled build %d", first.ID)
	}
	if other := enqueueCommit(t, s, "b/y:latest", shaA, pipeline.EnqueueQueued); other.Number != 1 {
		t.Errorf("another project at the same commit: %+v, want its build 1", other)
	}
}
