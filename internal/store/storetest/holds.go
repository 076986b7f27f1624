package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// holdTests are the cases of pipeline.HoldStore on one store handle. Run
// runs them with the others; RunShared runs the cross-handle ones.
var holdTests = []struct {
	name string
	f    func(t *testing.T, s pipeline.Store)
}{
	{"Hold/Repository", func(t *testing.T, s pipeline.Store) { testHoldRepository(t, s, s) }},
	{"Hold/LeaseRunsOut", testHoldLeaseRunsOut},
}

// RunShared runs the cases that need two handles on one database, as two
// servers or workers sharing it have: open returns both, on a new, empty
// database, and RunShared closes them when the subtest ends.
func RunShared(t *testing.T, open func(t *testing.T) (a, b pipeline.Store)) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, a, b pipeline.Store)
	}{
		{"Hold/RepositoryAcrossHandles", testHoldRepository},
		{"Hold/ConcurrentClaimsOfOneRepository", testHoldConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() { a.Close(); b.Close() })
			tc.f(t, a, b)
		})
	}
}

// testHoldRepository: a build claimed with a lease through a holds its
// image repository: b claims no other tag of it while it runs, nor after
// it ended until a settles it; then b does. Another repository is free
// all along.
func testHoldRepository(t *testing.T, a, b pipeline.Store) {
	one, _ := enqueue(t, a, "a/x:1")
	two, _ := enqueue(t, a, "a/x:2")
	other, _ := enqueue(t, a, "a/y:1")
	held := claimLeased(t, a, one, "server-a", at(100, 0), at(7, 0))
	if _, err := b.ClaimID(ctx(t), two.ID, pipeline.Lease{Holder: "server-b", Until: at(100, 0)}, at(8, 0)); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("ClaimID of a/x:2 while a/x:1 runs = %v, want ErrNotFound", err)
	}
	claimLeased(t, b, other, "server-b", at(100, 0), at(8, 0))

	held.Status, held.Finished = pipeline.StatusSucceeded, at(9, 0)
	must(t, "UpdateBuild", a.UpdateBuild(ctx(t), held))
	if got := inFlight(t, b, at(10, 0)); !got[held.ID] || !got[two.ID] || !got[other.ID] {
		t.Errorf("InFlight after a/x:1 ended = %v; want builds %d (ended, not settled), %d and %d", got, held.ID, two.ID, other.ID)
	}
	if _, err := b.ClaimID(ctx(t), two.ID, pipeline.Lease{Holder: "server-b", Until: at(100, 0)}, at(10, 0)); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("ClaimID of a/x:2 after a/x:1 ended, unsettled = %v, want ErrNotFound", err)
	}
	// A stale attempt's settle changes nothing.
	must(t, "Settle of another attempt", a.Settle(ctx(t), held.ID, held.Attempt+1))
	if got := inFlight(t, b, at(10, 0)); !got[held.ID] {
		t.Errorf("InFlight after another attempt's Settle = %v; want build %d still", got, held.ID)
	}
	must(t, "Settle", a.Settle(ctx(t), held.ID, held.Attempt))
	if got := inFlight(t, b, at(10, 0)); got[held.ID] || len(got) != 2 {
		t.Errorf("InFlight after Settle = %v; want builds %d and %d alone", got, two.ID, other.ID)
	}
	claimLeased(t, b, two, "server-b", at(100, 0), at(11, 0))
}

// testHoldLeaseRunsOut: an ended build that is never settled (its
// dispatcher died) holds its repository only until its lease runs out.
func testHoldLeaseRunsOut(t *testing.T, s pipeline.Store) {
	one, _ := enqueue(t, s, "a/x:1")
	two, _ := enqueue(t, s, "a/x:2")
	held := claimLeased(t, s, one, "server-a", at(20, 0), at(7, 0))
	held.Status, held.Finished = pipeline.StatusFailed, at(9, 0)
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), held))
	if _, err := s.ClaimID(ctx(t), two.ID, pipeline.Lease{Holder: "server-b", Until: at(100, 0)}, at(19, 0)); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("ClaimID of a/x:2 before the lease ran out = %v, want ErrNotFound", err)
	}
	if got := inFlight(t, s, at(19, 0)); !got[held.ID] {
		t.Errorf("InFlight before the lease ran out = %v; want build %d", got, held.ID)
	}
	if got := inFlight(t, s, at(21, 0)); got[held.ID] || !got[two.ID] {
		t.Errorf("InFlight after the lease ran out = %v; want build %d alone", got, two.ID)
	}
	claimLeased(t, s, two, "server-b", at(100, 0), at(21, 0))
}

// inFlight is the set of the ids InFlight lists at now.
func inFlight(t *testing.T, s pipeline.Store, now time.Time) map[int64]bool {
	t.Helper()
	bs, err := s.InFlight(ctx(t), now)
	must(t, "InFlight", err)
	out := map[int64]bool{}
	for _, b := range bs {
		out[b.ID] = true
	}
	return out
}

// testHoldConcurrent claims the queued builds of several tags of one
// repository from many callers on two handles at once: one is claimed.
func testHoldConcurrent(t *testing.T, a, b pipeline.Store) {
	for r := range rounds {
		repo := "a/race" + string(rune('a'+r))
		var queued []pipeline.Build
		for i := range racers {
			q, _ := enqueue(t, a, repo+":"+string(rune('0'+i)))
			queued = append(queued, q)
		}
		var mu sync.Mutex
		var claimed []int64
		race(func(i int) {
			s := a
			if i%2 == 1 {
				s = b
			}
			got, err := s.ClaimID(ctx(t), queued[i].ID, pipeline.Lease{Holder: "racer", Until: at(100, 0)}, at(7, 0))
			if errors.Is(err, pipeline.ErrNotFound) {
				return
			}
			if err != nil {
				t.Errorf("ClaimID: %v", err)
				return
			}
			mu.Lock()
			claimed = append(claimed, got.ID)
			mu.Unlock()
		})
		if len(claimed) != 1 {
			t.Errorf("round %d: %d concurrent ClaimID of %d tags of %s on two handles claimed %v; want one", r, racers, racers, repo, claimed)
		}
	}
}
