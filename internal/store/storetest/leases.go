package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

var leaseTests = []struct {
	name string
	f    func(t *testing.T, s pipeline.Store)
}{
	{"Lease/Renew", testLeaseRenew},
	{"Lease/ExpireRetries", testLeaseExpireRetries},
	{"Lease/ExpireLimit", testLeaseExpireLimit},
	{"Lease/RetriedClaimedFirst", testLeaseRetriedClaimedFirst},
	{"Lease/FailRunningSparesLeased", testFailRunningSparesLeased},
	{"Lease/CancelRequest", testLeaseCancelRequest},
	{"Lease/Release", testLeaseRelease},
}

var retry = pipeline.Retry{Attempts: 3, Backoff: 2 * time.Second, Max: time.Minute}

// claimLeased claims the queued build b for holder until until.
func claimLeased(t *testing.T, s pipeline.Store, b pipeline.Build, holder string, until, now time.Time) pipeline.Build {
	t.Helper()
	got, err := s.ClaimID(ctx(t), b.ID, pipeline.Lease{Holder: holder, Until: until}, now)
	must(t, "ClaimID with a lease", err)
	return got
}

func testLeaseRenew(t *testing.T, s pipeline.Store) {
	q, _ := enqueue(t, s, "a/x:latest")
	b := claimLeased(t, s, q, "server-a", at(10, 0), at(7, 0))
	if b.Status != pipeline.StatusRunning || b.Attempt != 1 {
		t.Fatalf("claimed: %s attempt %d, want running attempt 1", b.Status, b.Attempt)
	}
	must(t, "RenewLease by its holder", s.RenewLease(ctx(t), b.ID, 1, pipeline.Lease{Holder: "server-a", Until: at(20, 0)}))
	for _, tc := range []struct {
		holder  string
		attempt int
	}{{"server-b", 1}, {"server-a", 2}} {
		err := s.RenewLease(ctx(t), b.ID, tc.attempt, pipeline.Lease{Holder: tc.holder, Until: at(30, 0)})
		if !errors.Is(err, pipeline.ErrLeaseLost) {
			t.Errorf("RenewLease by %s for attempt %d = %v, want ErrLeaseLost", tc.holder, tc.attempt, err)
		}
	}
	// Renewed to 20 s: not expired at 15 s (it would have been at 10 s).
	if got, err := s.ExpireLeases(ctx(t), at(15, 0), retry); err != nil || len(got) != 0 {
		t.Errorf("ExpireLeases before the renewed expiry = %v, %v; want none", ids(got), err)
	}
	// A claim without a lease never expires.
	u, _ := enqueue(t, s, "b/y:latest")
	claim(t, s)
	if got, err := s.ExpireLeases(ctx(t), at(1000, 0), retry); err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("ExpireLeases much later = %v, %v; want only the leased build %d", ids(got), err, b.ID)
	}
	if got, err := s.Build(ctx(t), u.ID); err != nil || got.Status != pipeline.StatusRunning {
		t.Errorf("build claimed without a lease: %s, %v; want running", got.Status, err)
	}
}

func testLeaseExpireRetries(t *testing.T, s pipeline.Store) {
	q, _ := enqueue(t, s, "a/x:latest")
	b := claimLeased(t, s, q, "server-a", at(10, 0), at(7, 0))
	must(t, "PutStage", s.PutStage(ctx(t), pipeline.Stage{BuildID: b.ID, Name: pipeline.StageCheckout,
		Status: pipeline.StatusRunning, Started: at(8, 0)}))
	if got, err := s.ExpireLeases(ctx(t), at(10, 0), retry); err != nil || len(got) != 0 {
		t.Errorf("ExpireLeases when the lease ends = %v, %v; want none (it expires after)", ids(got), err)
	}
	got, err := s.ExpireLeases(ctx(t), at(11, 0), retry)
	must(t, "ExpireLeases", err)
	if len(got) != 1 || got[0].ID != b.ID || got[0].Status != pipeline.StatusQueued || got[0].Attempt != 2 {
		t.Fatalf("ExpireLeases = %+v, want build %d queued as attempt 2", got, b.ID)
	}
	stages, err := s.Stages(ctx(t), b.ID)
	must(t, "Stages", err)
	want := pipeline.LostAttempt(1, "server-a", at(10, 0))
	if len(stages) != 1 || stages[0].Status != pipeline.StatusFailed || stages[0].Error != want {
		t.Errorf("stages of the lost attempt: %+v, want checkout failed with %q", stages, want)
	}
	// The backoff after attempt 1 is retry.Delay(1) = 2 s.
	if _, err := s.ClaimID(ctx(t), b.ID, pipeline.Lease{Holder: "server-b", Until: at(30, 0)}, at(12, 0)); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("ClaimID during the backoff = %v, want ErrNotFound", err)
	}
	if _, err := s.Claim(ctx(t), at(12, 0)); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("Claim during the backoff = %v, want ErrNotFound", err)
	}
	again := claimLeased(t, s, b, "server-b", at(30, 0), at(13, 0))
	if again.Attempt != 2 || again.Status != pipeline.StatusRunning {
		t.Errorf("claimed again: %s attempt %d, want running attempt 2", again.Status, again.Attempt)
	}
	// The runner that lost it can neither renew nor record it.
	if err := s.RenewLease(ctx(t), b.ID, 1, pipeline.Lease{Holder: "server-a", Until: at(40, 0)}); !errors.Is(err, pipeline.ErrLeaseLost) {
		t.Errorf("RenewLease by the lost runner = %v, want ErrLeaseLost", err)
	}
	stale := b
	stale.Status, stale.Reason, stale.Finished = pipeline.StatusCancelled, "stale", at(14, 0)
	if err := s.UpdateBuild(ctx(t), stale); !errors.Is(err, pipeline.ErrLeaseLost) {
		t.Errorf("UpdateBuild of attempt 1 = %v, want ErrLeaseLost", err)
	}
	if cur, err := s.Build(ctx(t), b.ID); err != nil || cur.Status != pipeline.StatusRunning || cur.Attempt != 2 {
		t.Errorf("after the lost runner's update: %s attempt %d, %v; want running attempt 2", cur.Status, cur.Attempt, err)
	}
	again.Status, again.Finished = pipeline.StatusSucceeded, at(15, 0)
	must(t, "UpdateBuild of attempt 2", s.UpdateBuild(ctx(t), again))
	if cur, err := s.Build(ctx(t), b.ID); err != nil || cur.Status != pipeline.StatusSucceeded || cur.Attempt != 2 {
		t.Errorf("finished: %s attempt %d, %v; want succeeded attempt 2", cur.Status, cur.Attempt, err)
	}
}

func testLeaseExpireLimit(t *testing.T, s pipeline.Store) {
	q, _ := enqueue(t, s, "a/x:latest")
	now := at(7, 0)
	var b pipeline.Build
	var until time.Time
	for attempt := 1; attempt <= 3; attempt++ {
		until = now.Add(time.Second)
		b = claimLeased(t, s, q, "server-a", until, now)
		if b.Attempt != attempt {
			t.Fatalf("claim %d: attempt %d", attempt, b.Attempt)
		}
		must(t, "PutStage", s.PutStage(ctx(t), pipeline.Stage{BuildID: b.ID, Name: pipeline.StageBuild,
			Status: pipeline.StatusRunning, Started: now}))
		now = now.Add(2 * time.Second)
		got, err := s.ExpireLeases(ctx(t), now, retry)
		must(t, "ExpireLeases", err)
		if len(got) != 1 {
			t.Fatalf("ExpireLeases after attempt %d = %v, want build %d", attempt, ids(got), b.ID)
		}
		b = got[0]
		now = now.Add(retry.Delay(attempt))
	}
	reason := pipeline.LostRunner(3, "server-a", until)
	if b.Status != pipeline.StatusFailed || b.Attempt != 3 || b.Reason != reason || b.Finished.IsZero() {
		t.Errorf("after 3 lost attempts: %s attempt %d %q finished %v; want failed attempt 3 %q", b.Status, b.Attempt, b.Reason, b.Finished, reason)
	}
	stages, err := s.Stages(ctx(t), b.ID)
	must(t, "Stages", err)
	if len(stages) != 1 || stages[0].Status != pipeline.StatusFailed || stages[0].Error != reason {
		t.Errorf("stages: %+v, want build failed with %q", stages, reason)
	}
	if got, err := s.ExpireLeases(ctx(t), now.Add(time.Hour), retry); err != nil || len(got) != 0 {
		t.Errorf("ExpireLeases after the failure = %v, %v; want none", ids(got), err)
	}
	// The last attempt's runner, back, cannot overwrite the failure.
	stale := b
	stale.Status, stale.Reason = pipeline.StatusCancelled, "server stopping"
	if err := s.UpdateBuild(ctx(t), stale); !errors.Is(err, pipeline.ErrLeaseLost) {
		t.Errorf("UpdateBuild by the last attempt's lost runner = %v, want ErrLeaseLost", err)
	}
	if cur, err := s.Build(ctx(t), b.ID); err != nil || cur.Status != pipeline.StatusFailed || cur.Reason != reason {
		t.Errorf("after the lost runner's update: %s %q, %v; want failed %q", cur.Status, cur.Reason, err, reason)
	}
}

// testLeaseRetriedClaimedFirst: a build queued again after it lost its
// runner is claimed before the builds queued before it that have not run
// yet: it already had its turn, and waited for its lease to run out.
func testLeaseRetriedClaimedFirst(t *testing.T, s pipeline.Store) {
	fresh, _ := enqueue(t, s, "a/x:latest")
	q, _ := enqueue(t, s, "b/y:latest")
	lost := claimLeased(t, s, q, "server-a", at(10, 0), at(7, 0))
	got, err := s.ExpireLeases(ctx(t), at(11, 0), retry)
	must(t, "ExpireLeases", err)
	if len(got) != 1 || got[0].ID != lost.ID || got[0].Attempt != 2 {
		t.Fatalf("ExpireLeases = %+v, want build %d queued as attempt 2", got, lost.ID)
	}
	later, _ := enqueue(t, s, "c/z:latest")
	now := at(11, 0).Add(retry.Delay(1))
	var order []int64
	for range 3 {
		b, err := s.Claim(ctx(t), now)
		must(t, "Claim", err)
		order = append(order, b.ID)
	}
	if d := diff([]int64{lost.ID, fresh.ID, later.ID}, order); d != "" {
		t.Errorf("claimed IDs (-want +got): the retried build %d first, then by ID:\n%s", lost.ID, d)
	}
}

func testFailRunningSparesLeased(t *testing.T, s pipeline.Store) {
	q, _ := enqueue(t, s, "a/x:latest")
	leased := claimLeased(t, s, q, "server-a", at(30, 0), at(7, 0))
	enqueue(t, s, "b/y:latest")
	plain := claim(t, s)
	n, err := s.FailRunning(ctx(t), "server restarted", at(20, 0))
	if err != nil || n != 1 {
		t.Errorf("FailRunning = %d, %v; want 1 (the build without a lease)", n, err)
	}
	if got, err := s.Build(ctx(t), leased.ID); err != nil || got.Status != pipeline.StatusRunning {
		t.Errorf("leased build after FailRunning: %s, %v; want running (another server may hold it)", got.Status, err)
	}
	if got, err := s.Build(ctx(t), plain.ID); err != nil || got.Status != pipeline.StatusFailed {
		t.Errorf("unleased build after FailRunning: %s, %v; want failed", got.Status, err)
	}
}

// testLeaseCancelRequest: a cancel asked for a running leased build is
// kept for its runner to read; a build that is queued, running without a
// lease or over is not asked.
func testLeaseCancelRequest(t *testing.T, s pipeline.Store) {
	q, _ := enqueue(t, s, "a/x:latest")
	if asked, err := s.RequestCancel(ctx(t), q.ID, "cancelled by bob"); err != nil || asked {
		t.Errorf("RequestCancel of a queued build = %v, %v; want false", asked, err)
	}
	b := claimLeased(t, s, q, "server-a", at(10, 0), at(7, 0))
	if r, err := s.CancelRequested(ctx(t), b.ID); err != nil || r != "" {
		t.Errorf("CancelRequested before any request = %q, %v; want none", r, err)
	}
	if asked, err := s.RequestCancel(ctx(t), b.ID, "cancelled by bob"); err != nil || !asked {
		t.Fatalf("RequestCancel of a running leased build = %v, %v; want true", asked, err)
	}
	if r, err := s.CancelRequested(ctx(t), b.ID); err != nil || r != "cancelled by bob" {
		t.Errorf("CancelRequested = %q, %v; want the reason", r, err)
	}
	u, _ := enqueue(t, s, "b/y:latest")
	claim(t, s) // no lease: its runner does not read requests
	if asked, err := s.RequestCancel(ctx(t), u.ID, "cancelled by bob"); err != nil || asked {
		t.Errorf("RequestCancel of a build running without a lease = %v, %v; want false", asked, err)
	}
	b.Status, b.Finished = pipeline.StatusCancelled, at(12, 0)
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b))
	if asked, err := s.RequestCancel(ctx(t), b.ID, "again"); err != nil || asked {
		t.Errorf("RequestCancel of a finished build = %v, %v; want false", asked, err)
	}
	if _, err := s.CancelRequested(ctx(t), 1<<40); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("CancelRequested of no build = %v, want ErrNotFound", err)
	}
}

// testLeaseRelease: the leases of an earlier process (a holder prefix) end
// at once and ExpireLeases retries their builds; other holders' stay.
func testLeaseRelease(t *testing.T, s pipeline.Store) {
	q1, _ := enqueue(t, s, "a/x:latest")
	q2, _ := enqueue(t, s, "b/y:latest")
	mine := claimLeased(t, s, q1, "inst1/host-aaaa", at(100, 0), at(7, 0))
	theirs := claimLeased(t, s, q2, "inst2/host-bbbb", at(100, 0), at(7, 0))
	n, err := s.ReleaseLeases(ctx(t), "inst1/", at(8, 0))
	if err != nil || n != 1 {
		t.Fatalf("ReleaseLeases = %d, %v; want 1", n, err)
	}
	got, err := s.ExpireLeases(ctx(t), at(8, 0), retry)
	if err != nil || len(got) != 1 || got[0].ID != mine.ID || got[0].Status != pipeline.StatusQueued || got[0].Attempt != 2 {
		t.Fatalf("ExpireLeases after the release = %+v, %v; want build %d queued as attempt 2", got, err, mine.ID)
	}
	if b, err := s.Build(ctx(t), theirs.ID); err != nil || b.Status != pipeline.StatusRunning {
		t.Errorf("another holder's build: %s, %v; want still running", b.Status, err)
	}
}
