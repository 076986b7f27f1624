package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLeaseLost is returned when a runner renews or records a build whose
// lease it no longer holds: the lease expired and the build was queued again
// (or failed), and another runner may run it now.
var ErrLeaseLost = errors.New("the build's lease was lost: another runner may have taken it")

// Lease is a runner's hold on a running build: Holder (a server's or
// worker's id, unique per process) runs it until Until, unless it renews
// the lease before then.
type Lease struct {
	Holder string
	Until  time.Time
}

// Retry says what becomes of a running build whose lease expired: it is
// queued again as its next attempt, claimable after Delay(attempt), until it
// has had Attempts attempts; then it fails.
type Retry struct {
	Attempts int           // the most attempts a build gets; < 1: 1
	Backoff  time.Duration // the wait after the first attempt, doubled after each further one
	Max      time.Duration // the longest wait; 0: no cap
}

// Delay is how long a build waits after losing its attempt-th attempt before
// another runner may take it.
func (r Retry) Delay(attempt int) time.Duration {
	d := r.Backoff
	for i := 1; i < attempt && d > 0 && (r.Max == 0 || d < r.Max); i++ {
		d *= 2
	}
	if r.Max > 0 && d > r.Max {
		d = r.Max
	}
	return max(d, 0)
}

// LeaseStore keeps the leases of running builds. A dispatcher claims a
// build with a lease (QueuePicker.ClaimID), renews it while the build runs,
// and expires the leases of the builds whose runners stopped renewing. Safe
// for concurrent use by several processes sharing the store.
type LeaseStore interface {
	// RenewLease extends the lease on the running build with id and attempt
	// to lease.Until, if lease.Holder still holds it; otherwise (the lease
	// expired and the build was queued again or failed, or it ended) an
	// error wrapping ErrLeaseLost, and the holder must stop running it.
	RenewLease(ctx context.Context, id int64, attempt int, lease Lease) error
	// ExpireLeases ends the attempts of the running builds whose lease
	// expired before now: each is queued again as its next attempt, not
	// claimable before now + retry.Delay(attempt), or fails once it has had
	// retry.Attempts attempts, with a reason that says it lost its runner
	// that many times. The stages its lost attempt left running are marked
	// failed. It returns the builds it changed, as they are now.
	ExpireLeases(ctx context.Context, now time.Time, retry Retry) ([]Build, error)
	// ReleaseLeases ends at now the leases of the running builds whose
	// holder begins with prefix (an earlier process of this one's data
	// folder, which is gone), so that ExpireLeases takes them at once
	// rather than when they would have run out, and the holds
	// (HoldStore) of its builds that ended; it returns how many running
	// builds it released.
	ReleaseLeases(ctx context.Context, prefix string, now time.Time) (int, error)
	// RequestCancel asks the runner holding the lease on the running build
	// id to cancel it, with reason (its runner may be another process, on
	// another machine); false when the build is not running under a lease.
	RequestCancel(ctx context.Context, id int64, reason string) (bool, error)
	// CancelRequested returns the reason of the cancel asked for the
	// build id with RequestCancel, "" when none was.
	CancelRequested(ctx context.Context, id int64) (string, error)
}

// LostAttempt is the error of the stages an attempt left running when its
// lease expired and the build was queued again.
func LostAttempt(attempt int, holder string, until time.Time) string {
	return fmt.Sprintf("attempt %d lost its runner (%s); attempt %d is queued", attempt, lost(holder, until), attempt+1)
}

// LostRunner is the reason of a build that failed because its last attempt
// (attempts in all) lost its runner too.
func LostRunner(attempts int, holder string, until time.Time) string {
	return fmt.Sprintf("lost its runner %d times: %s", attempts, lost(holder, until))
}

func lost(holder string, until time.Time) string {
	return fmt.Sprintf("runner %s stopped renewing its lease, which expired at %s", holder, until.UTC().Format(time.RFC3339))
}

// HoldStore keeps, in the store, the hold a leased build has on its image
// repository (ns/name of its project ns/name:tag), so that every process
// sharing the store runs one build of a repository at a time (two would
// race for its NAME:test tag) and a child waits for what follows its
// parent's end. A build claimed with a lease (QueuePicker.ClaimID) holds
// its repository from the claim while it runs and, once it ended, until
// its dispatcher settles it (having queued its children) or its lease runs
// out (its process died). ClaimID claims no build of a held repository.
// Safe for concurrent use by several processes.
type HoldStore interface {
	// Settle ends the hold of attempt of build id, which ended; a later
	// attempt's hold is left alone.
	Settle(ctx context.Context, id int64, attempt int) error
	// InFlight lists, in one snapshot, oldest first, the queued and
	// running builds and those that ended but still hold their repository
	// at now: what a queued build of a child or of the repository waits for.
	InFlight(ctx context.Context, now time.Time) ([]Build, error)
}

// RepositoryOf is the image repository of the project with key (ns/name of
// ns/name:tag), or key itself when it does not parse: what a build holds.
func RepositoryOf(key string) string {
	ref, err := ParseImageRef(key)
	if err != nil {
		return key
	}
	return ref.Repository()
}
