package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// LeaderBackend is what servers sharing a store need of it beyond
// builds: leader leases and the webhook log.
type LeaderBackend interface {
	pipeline.Leader
	pipeline.WebhookLog
	Close() error
}

// RunLeader runs the part of the suite servers sharing a store rely on:
// of leader leases, one holder at a time, expiry hands the lease over,
// only the holder renews or resigns it; the webhook log keeps the latest
// time per repository. open must return a new, empty store for each call.
func RunLeader(t *testing.T, open func(t *testing.T) LeaderBackend) {
	tests := []struct {
		name string
		f    func(t *testing.T, s LeaderBackend)
	}{
		{"Leader/OneHolder", testLeaderOneHolder},
		{"Leader/ExpiryHandsOver", testLeaderExpiry},
		{"Leader/Resign", testLeaderResign},
		{"Leader/Concurrent", testLeaderConcurrent},
		{"Webhook/Last", testWebhookLast},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.f(t, s)
		})
	}
}

// lead calls TryLead and fails the test unless it answers want.
func lead(t *testing.T, s pipeline.Leader, name, holder string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := s.TryLead(ctx(t), name, holder, ttl)
	must(t, fmt.Sprintf("TryLead(%s, %s)", name, holder), err)
	if got != want {
		t.Errorf("TryLead(%s, %s) = %v, want %v", name, holder, got, want)
	}
}

// testLeaderOneHolder: while a's lease lasts, b cannot take it; a renews
// it; another name is another lease.
func testLeaderOneHolder(t *testing.T, s LeaderBackend) {
	lead(t, s, "poll", "a", time.Hour, true)
	lead(t, s, "poll", "b", time.Hour, false)
	lead(t, s, "poll", "a", time.Hour, true) // renewed
	lead(t, s, "poll", "b", time.Hour, false)
	lead(t, s, "schedule", "b", time.Hour, true)
	lead(t, s, "schedule", "a", time.Hour, false)
}

// testLeaderExpiry: once a's lease has expired, b takes it, and a can no
// longer renew it.
func testLeaderExpiry(t *testing.T, s LeaderBackend) {
	lead(t, s, "poll", "a", 50*time.Millisecond, true)
	time.Sleep(200 * time.Millisecond)
	lead(t, s, "poll", "b", time.Hour, true)
	lead(t, s, "poll", "a", time.Hour, false)
	// A holder whose lease expired with nobody taking it takes it again.
	lead(t, s, "rescan", "a", 50*time.Millisecond, true)
	time.Sleep(200 * time.Millisecond)
	lead(t, s, "rescan", "a", time.Hour, true)
	lead(t, s, "rescan", "b", time.Hour, false)
}

// testLeaderResign: only the holder gives a lease up, and then another
// takes it at once.
func testLeaderResign(t *testing.T, s LeaderBackend) {
	lead(t, s, "poll", "a", time.Hour, true)
	must(t, "Resign by b", s.Resign(ctx(t), "poll", "b"))
	lead(t, s, "poll", "b", time.Hour, false)
	must(t, "Resign by a", s.Resign(ctx(t), "poll", "a"))
	lead(t, s, "poll", "b", time.Hour, true)
	must(t, "Resign of a lease nobody has", s.Resign(ctx(t), "index", "a"))
}

// testLeaderConcurrent: of many holders asking at once, one gets the
// lease.
func testLeaderConcurrent(t *testing.T, s LeaderBackend) {
	for r := range rounds {
		name := fmt.Sprintf("job%d", r)
		var won atomic.Int32
		var mu sync.Mutex
		var errs []error
		race(func(i int) {
			ok, err := s.TryLead(ctx(t), name, fmt.Sprintf("h%d", i), time.Hour)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			if ok {
				won.Add(1)
			}
		})
		if len(errs) > 0 {
			t.Fatalf("concurrent TryLead: %v", errs)
		}
		if n := won.Load(); n != 1 {
			t.Errorf("%d concurrent TryLead of %s: %d holders, want 1", racers, name, n)
		}
	}
}

// testWebhookLast: the latest webhook per repository is kept, an earlier
// one does not move it back, and a repository none reached has none.
func testWebhookLast(t *testing.T, s LeaderBackend) {
	const repo, other = "https://git.example/org/repo", "https://git.example/org/other"
	last := func(repo string, want time.Time) {
		t.Helper()
		got, err := s.LastWebhook(ctx(t), repo)
		must(t, "LastWebhook", err)
		if !got.Equal(want) {
			t.Errorf("LastWebhook(%s) = %v, want %v", repo, got, want)
		}
		mustUTC(t, "LastWebhook", got)
	}
	last(repo, time.Time{})
	must(t, "NoteWebhook", s.NoteWebhook(ctx(t), repo, at(10, 5)))
	last(repo, at(10, 5))
	must(t, "NoteWebhook earlier", s.NoteWebhook(ctx(t), repo, at(5, 0)))
	last(repo, at(10, 5))
	must(t, "NoteWebhook later", s.NoteWebhook(ctx(t), repo, at(20, 7)))
	last(repo, at(20, 7))
	last(other, time.Time{})
}
