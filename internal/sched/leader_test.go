package sched

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// cutLeader is a store whose connection a test cuts, as a killed server's
// is: once cut, every call fails, so the lease is neither renewed nor
// given up.
type cutLeader struct {
	pipeline.Leader
	cut atomic.Bool
}

var errCut = errors.New("connection cut")

func (c *cutLeader) TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if c.cut.Load() {
		return false, errCut
	}
	return c.Leader.TryLead(ctx, name, holder, ttl)
}

func (c *cutLeader) Resign(ctx context.Context, name, holder string) error {
	if c.cut.Load() {
		return errCut
	}
	return c.Leader.Resign(ctx, name, holder)
}

// leadServer is one server's Lead loop of a job that records when it runs.
type leadServer struct {
	name    string
	store   *cutLeader
	cancel  context.CancelFunc
	started chan string   // the server's name, each time its job starts
	running atomic.Int32  // its job runs now
	done    chan struct{} // Lead returned
}

func startLead(t *testing.T, st pipeline.Leader, name string, ttl time.Duration, started chan string) *leadServer {
	ctx, cancel := context.WithCancel(t.Context())
	s := &leadServer{name: name, store: &cutLeader{Leader: st}, cancel: cancel, started: started, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		Lead(ctx, s.store, "poll", name, LeadOptions{TTL: ttl}, func(ctx context.Context) {
			s.running.Add(1)
			defer s.running.Add(-1)
			started <- name
			<-ctx.Done()
		})
	}()
	t.Cleanup(func() { cancel(); <-s.done })
	return s
}

// waitStart waits for a job to start and returns which server's did.
func waitStart(t *testing.T, started chan string, within time.Duration) string {
	t.Helper()
	select {
	case name := <-started:
		return name
	case <-time.After(within):
		t.Fatalf("no leadServer started the job within %v", within)
		return ""
	}
}

func TestLeadRunsTheJobOnOneServerAndMovesItWhenTheHolderDies(t *testing.T) {
	st := openTriggerStore(t)
	const ttl = 3 * time.Second
	started := make(chan string, 10)
	servers := map[string]*leadServer{
		"a": startLead(t, st, "a", ttl, started),
		"b": startLead(t, st, "b", ttl, started),
	}
	first := waitStart(t, started, 10*time.Second)
	select {
	case other := <-started:
		t.Fatalf("the job started on %s and on %s: want one leadServer", first, other)
	case <-time.After(ttl):
	}
	leader, follower := servers[first], servers["a"]
	if first == "a" {
		follower = servers["b"]
	}

	// The leader's connection is cut: it can neither renew nor resign.
	// Its job stops when the lease would expire, and the other's starts.
	cut := time.Now()
	leader.store.cut.Store(true)
	if got := waitStart(t, started, 6*ttl); got != follower.name {
		t.Fatalf("after %s died, the job started on %s, want %s", first, got, follower.name)
	}
	t.Logf("the job moved from %s to %s in %v (ttl %v)", first, follower.name, time.Since(cut).Round(time.Millisecond), ttl)
	for deadline := time.Now().Add(ttl); leader.running.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s's job still runs after its lease expired", first)
		}
	}

	// A leadServer that stops gives the lease up: the other takes it at once,
	// well before it would have expired.
	leader.cancel()
	<-leader.done
	leader.store.cut.Store(false)
	stopped := time.Now()
	back := startLead(t, st, first, ttl, started)
	follower.cancel()
	<-follower.done
	if got := waitStart(t, started, 6*ttl); got != back.name {
		t.Fatalf("after %s stopped, the job started on %s, want %s", follower.name, got, back.name)
	}
	t.Logf("handed over on stop in %v", time.Since(stopped).Round(time.Millisecond))
}

func TestLeadGivesTheLeaseUpWhenTheJobReturns(t *testing.T) {
	st := openTriggerStore(t)
	ran := false
	Lead(t.Context(), st, "poll", "a", LeadOptions{TTL: time.Hour}, func(context.Context) { ran = true })
	if !ran {
		t.Fatal("the job did not run")
	}
	ok, err := st.TryLead(t.Context(), "poll", "b", time.Hour)
	if err != nil || !ok {
		t.Errorf("TryLead by another after the job returned = %v, %v; want the lease free", ok, err)
	}
}

// TestSchedulerRunsAgainAfterItsContextEnds: Lead stops a job when its
// server loses the lease and runs it again when the lease comes back, so
// the Scheduler fires again after a second Run.
func TestSchedulerRunsAgainAfterItsContextEnds(t *testing.T) {
	st := openTriggerStore(t, tproj("a", "u", "main"))
	s, err := NewScheduler(st, NewDispatcher(st, nil, DispatcherOptions{}), ScheduleOptions{Global: "@every 1s"})
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for len(builds(t, st, "t/a:latest")) < round {
			if time.Now().After(deadline) {
				t.Fatalf("run %d: the schedule did not fire within 10 s", round)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		<-done
		finish(t, st, builds(t, st, "t/a:latest")[0].ID) // the next fire queues another
	}
}

// TestPollSkipsARepositoryAWebhookReachedAtAnotherServer: two servers on
// one store, the webhook reaches one and the poller runs on the other,
// which leaves that repository be all the same.
func TestPollSkipsARepositoryAWebhookReachedAtAnotherServer(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	st := openTriggerStore(t, tproj("a", url, "main"))
	hooked := NewPushes(st, nil, nil) // the server the webhook reaches
	poller := NewPoller(st, source.New(), NewPushes(st, nil, nil), PollOptions{Interval: time.Hour})
	sha := testenv.Git(t, repo, "rev-parse", "HEAD")
	if _, err := hooked.Push(t.Context(), pipeline.Push{Repo: url, Branch: "main", Commit: sha, Via: "github"}); err != nil {
		t.Fatal(err)
	}
	finish(t, st, builds(t, st, "t/a:latest")[0].ID) // else a new commit joins it
	testenv.Commit(t, repo, map[string]string{"x": "1"}, "not pushed by a webhook yet")
	if n := poller.PollOnce(t.Context()); n != 0 {
		t.Errorf("the other server's poll of a repository a webhook just reached queued %d builds, want 0", n)
	}
	if n := len(builds(t, st, "t/a:latest")); n != 1 {
		t.Errorf("t/a has %d builds, want the webhook's alone", n)
	}
}
