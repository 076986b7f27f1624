package sched

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// dropRenewals is the fault seam of these tests: while drop is set, lease
// renewals are lost on the way (a runner cut off from the database, frozen,
// or killed), and the runner hears nothing of it.
type dropRenewals struct {
	DispatchStore
	drop atomic.Bool
}

func (s *dropRenewals) RenewLease(ctx context.Context, id int64, attempt int, lease pipeline.Lease) error {
	if s.drop.Load() {
		return nil
	}
	return s.DispatchStore.RenewLease(ctx, id, attempt, lease)
}

// openStore opens a new SQLite store at path holding keys' projects, or the
// existing one when keys is empty, and closes it when the test ends.
func openStore(t *testing.T, path string, keys ...string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	for _, k := range keys {
		must(t, st.PutProject(context.Background(), proj(k)))
	}
	return st
}

// runOn runs a dispatcher with opts on ds, whose builds its fake executor
// records in st; the test's end stops it.
func runOn(t *testing.T, ds DispatchStore, st *sqlite.Store, opts DispatcherOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, st: st, exec: newFakeExec(st), obs: &observer{done: map[int64]pipeline.Build{}}, done: make(chan error, 1)}
	opts.Poll, opts.Observer = 20*time.Millisecond, f.obs
	f.d = NewDispatcher(ds, f.exec, opts)
	rctx, stop := context.WithCancelCause(context.Background())
	f.stop = stop
	go func() { f.done <- f.d.Run(rctx) }()
	t.Cleanup(func() { f.shutdown(errors.New("test over")) })
	return f
}

// idle waits until the fake executor runs nothing.
func (f *fixture) idle() {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.exec.mu.Lock()
		n := f.exec.active
		f.exec.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d builds still run", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDispatcherLeaseRetakenByAnother: a server whose lease renewals stop
// (killed, frozen, cut off) loses its build to another server sharing the
// database, which runs it as attempt 2 within twice the lease; when the
// first comes back, its renewal reports the loss, it stops the build and
// records and reports nothing of it.
func TestDispatcherLeaseRetakenByAnother(t *testing.T) {
	const lease = 2 * time.Second
	path := filepath.Join(t.TempDir(), "hoist.db")
	stA := openStore(t, path, "a/x:1")
	cut := &dropRenewals{DispatchStore: stA}
	cut.drop.Store(true)
	a := runOn(t, cut, stA, DispatcherOptions{Workers: 1, Lease: lease, Holder: "server-a"})
	a.trigger("a/x:1")
	first := a.started()
	if first.Attempt != 1 {
		t.Fatalf("first run: attempt %d, want 1", first.Attempt)
	}

	stB := openStore(t, path) // another process on the same database
	b := runOn(t, stB, stB, DispatcherOptions{Workers: 1, Lease: lease, Holder: "server-b"})
	second := b.started()
	took := time.Since(first.Started)
	t.Logf("attempt 2 started %v after attempt 1 was claimed (lease %v)", took, lease)
	if second.ID != first.ID || second.Attempt != 2 {
		t.Fatalf("server b started build %d attempt %d, want build %d attempt 2", second.ID, second.Attempt, first.ID)
	}
	if took > 2*lease {
		t.Errorf("attempt 2 started %v after attempt 1, want within twice the lease (%v)", took, 2*lease)
	}
	stages := a.status(first.ID, pipeline.StatusRunning)
	if stages.Attempt != 2 {
		t.Errorf("stored build: attempt %d, want 2", stages.Attempt)
	}

	// Server a is back: its next renewal fails, it cancels its run, which
	// cannot record anything over attempt 2.
	cut.drop.Store(false)
	a.idle()
	if got := a.status(first.ID, pipeline.StatusRunning); got.Attempt != 2 {
		t.Errorf("after server a stopped its run: attempt %d, want 2 still running", got.Attempt)
	}
	if got, ok := a.obs.get(first.ID); ok {
		t.Errorf("server a reported the build it lost: %s %q", got.Status, got.Reason)
	}
	b.exec.release <- struct{}{}
	if got := b.status(first.ID, pipeline.StatusSucceeded); got.Attempt != 2 {
		t.Errorf("finished: attempt %d, want 2", got.Attempt)
	}
}

// lostRunner queues a build of key, claims it for a runner that dies at
// once and expires its lease: the build is queued again as attempt 2, ready
// a millisecond later.
func lostRunner(t *testing.T, st *sqlite.Store, key string) pipeline.Build {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	q, _, err := st.Enqueue(ctx, key, "test", now)
	must(t, err)
	_, err = st.ClaimID(ctx, q.ID, pipeline.Lease{Holder: "killed", Until: now.Add(-time.Second)}, now.Add(-2*time.Second))
	must(t, err)
	bs, err := st.ExpireLeases(ctx, now, pipeline.Retry{Attempts: 3, Backoff: time.Millisecond})
	must(t, err)
	if len(bs) != 1 || bs[0].ID != q.ID || bs[0].Attempt != 2 {
		t.Fatalf("ExpireLeases = %+v, want build %d queued as attempt 2", bs, q.ID)
	}
	return bs[0]
}

// TestDispatcherRetriedFirst: builds queued again after they lost their
// runner take the free workers before a build queued before them that has
// not run yet: they already had their turn, and waited for their lease to
// run out (a killed worker's build must run again within twice the lease).
func TestDispatcherRetriedFirst(t *testing.T) {
	var fresh pipeline.Build
	lost := map[int64]bool{}
	f := start(t, 1, []string{"a/fresh:1", "b/lost:1", "c/lost:1"}, func(st *sqlite.Store) {
		var err error
		fresh, _, err = st.Enqueue(context.Background(), "a/fresh:1", "test", time.Now())
		must(t, err)
		lost[lostRunner(t, st, "b/lost:1").ID] = true
		lost[lostRunner(t, st, "c/lost:1").ID] = true
	})
	// The worker and the worker of retries.
	for range 2 {
		if b := f.started(); !lost[b.ID] || b.Attempt != 2 {
			t.Errorf("started build %d (%s) attempt %d, want a retried one, attempt 2, before the fresh %d", b.ID, b.Project, b.Attempt, fresh.ID)
		}
	}
	f.quiet()
	f.exec.release <- struct{}{}
	f.exec.release <- struct{}{}
	if b := f.started(); b.ID != fresh.ID {
		t.Errorf("then started build %d (%s), want %d", b.ID, b.Project, fresh.ID)
	}
	f.exec.release <- struct{}{}
	f.status(fresh.ID, pipeline.StatusSucceeded)
}

// TestDispatcherRetriedWhileBusy: a build queued again after it lost its
// runner does not wait for a busy worker (its first attempt had one,
// which is gone); a fresh build does.
func TestDispatcherRetriedWhileBusy(t *testing.T) {
	f := start(t, 1, []string{"a/busy:1", "b/lost:1", "c/fresh:1"}, nil)
	busy, _ := f.trigger("a/busy:1")
	if b := f.started(); b.ID != busy.ID {
		t.Fatalf("started build %d, want %d", b.ID, busy.ID)
	}
	lost := lostRunner(t, f.st, "b/lost:1")
	if b := f.started(); b.ID != lost.ID || b.Attempt != 2 {
		t.Fatalf("while the worker is busy, started build %d (%s) attempt %d; want the retried %d", b.ID, b.Project, b.Attempt, lost.ID)
	}
	fresh, _ := f.trigger("c/fresh:1")
	f.quiet()
	f.exec.release <- struct{}{}
	f.exec.release <- struct{}{}
	if b := f.started(); b.ID != fresh.ID {
		t.Errorf("then started build %d, want the fresh %d", b.ID, fresh.ID)
	}
	f.exec.release <- struct{}{}
	for _, id := range []int64{busy.ID, lost.ID, fresh.ID} {
		f.status(id, pipeline.StatusSucceeded)
	}
	if f.exec.maxActive != 2 {
		t.Errorf("%d builds ran at once, want 2: one worker and one retry", f.exec.maxActive)
	}
}

// TestDispatcherLeaseAttemptLimit: a build that keeps losing its runner is
// failed after the last attempt, with the reason, and reported once; the
// runners that lost it cannot record over the failure.
func TestDispatcherLeaseAttemptLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	st := openStore(t, path, "a/x:1")
	opts := func(holder string) DispatcherOptions {
		return DispatcherOptions{Workers: 1, Lease: time.Second, Holder: holder,
			Retry: pipeline.Retry{Attempts: 2, Backoff: 50 * time.Millisecond}}
	}
	cutA := &dropRenewals{DispatchStore: st}
	cutA.drop.Store(true)
	a := runOn(t, cutA, st, opts("server-a"))
	queued, _ := a.trigger("a/x:1")
	if b := a.started(); b.ID != queued.ID || b.Attempt != 1 {
		t.Fatalf("server a started build %d attempt %d, want build %d attempt 1", b.ID, b.Attempt, queued.ID)
	}
	stB := openStore(t, path)
	cutB := &dropRenewals{DispatchStore: stB}
	cutB.drop.Store(true)
	b := runOn(t, cutB, stB, opts("server-b"))
	if got := b.started(); got.ID != queued.ID || got.Attempt != 2 {
		t.Fatalf("server b started build %d attempt %d, want build %d attempt 2", got.ID, got.Attempt, queued.ID)
	}
	failed := a.status(queued.ID, pipeline.StatusFailed)
	if !strings.HasPrefix(failed.Reason, "lost its runner 2 times: runner server-b stopped renewing its lease") {
		t.Errorf("reason %q, want it to say the build lost its runner 2 times, last server-b", failed.Reason)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ra, okA := a.obs.get(queued.ID)
		rb, okB := b.obs.get(queued.ID)
		if okA && okB {
			t.Fatalf("both servers reported the failure")
		}
		if okA || okB {
			got := ra
			if okB {
				got = rb
			}
			if got.Status != pipeline.StatusFailed || got.Reason != failed.Reason {
				t.Errorf("reported %s %q, want failed %q", got.Status, got.Reason, failed.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed build was not reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.quiet() // no third attempt
	b.quiet()
	a.shutdown(errors.New("server stopping"))
	b.shutdown(errors.New("server stopping"))
	if got, err := st.Build(context.Background(), queued.ID); err != nil || got.Status != pipeline.StatusFailed || got.Reason != failed.Reason {
		t.Errorf("after the lost runs ended: %s %q, %v; want failed %q", got.Status, got.Reason, err, failed.Reason)
	}
	if _, ok := a.obs.get(queued.ID); ok {
		if _, ok := b.obs.get(queued.ID); ok {
			t.Errorf("both servers reported the build")
		}
	}
}

// TestDispatcherRecoverSparesLeased: a server starting next to another
// leaves the other's running build alone (it holds a live lease).
func TestDispatcherRecoverSparesLeased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	st := openStore(t, path, "a/x:1")
	a := runOn(t, st, st, DispatcherOptions{Workers: 1, Lease: time.Second})
	a.trigger("a/x:1")
	b := a.started()
	stB := openStore(t, path)
	must(t, NewDispatcher(stB, newFakeExec(stB), DispatcherOptions{Lease: time.Second}).Recover(context.Background()))
	time.Sleep(1500 * time.Millisecond) // past the first lease: renewed meanwhile
	must(t, NewDispatcher(stB, newFakeExec(stB), DispatcherOptions{Lease: time.Second}).Recover(context.Background()))
	if got := a.status(b.ID, pipeline.StatusRunning); got.Attempt != 1 {
		t.Errorf("after another server started: attempt %d, want 1", got.Attempt)
	}
	a.exec.release <- struct{}{}
	a.status(b.ID, pipeline.StatusSucceeded)
}

// TestDispatcherLeaseRetakenHere: a server that lost a build's lease (its
// renewals were lost) may claim the build's next attempt itself; the lost
// run is stopped first and the new attempt runs and is recorded.
func TestDispatcherLeaseRetakenHere(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "hoist.db"), "a/x:1")
	cut := &dropRenewals{DispatchStore: st}
	cut.drop.Store(true)
	f := runOn(t, cut, st, DispatcherOptions{Workers: 2, Lease: time.Second, Holder: "server-a"})
	queued, _ := f.trigger("a/x:1")
	if b := f.started(); b.Attempt != 1 {
		t.Fatalf("attempt %d started, want 1", b.Attempt)
	}
	if b := f.started(); b.ID != queued.ID || b.Attempt != 2 {
		t.Fatalf("started build %d attempt %d, want build %d attempt 2", b.ID, b.Attempt, queued.ID)
	}
	cut.drop.Store(false)
	f.exec.release <- struct{}{}
	if got := f.status(queued.ID, pipeline.StatusSucceeded); got.Attempt != 2 {
		t.Errorf("finished: attempt %d, want 2", got.Attempt)
	}
	f.idle()
	// The dispatcher reports the build a moment after its executor returns.
	deadline := time.Now().Add(10 * time.Second)
	got, ok := f.obs.get(queued.ID)
	for !ok && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got, ok = f.obs.get(queued.ID)
	}
	if !ok || got.Status != pipeline.StatusSucceeded {
		t.Errorf("reported %s %v, want succeeded", got.Status, ok)
	}
}

// TestDispatcherCancelOnAnotherServer: a cancel asked for on a server that
// does not run the build reaches the server (or worker) that does, through
// the database, and the build ends cancelled with its reason within a few
// seconds.
func TestDispatcherCancelOnAnotherServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	stA := openStore(t, path, "a/x:1")
	a := runOn(t, stA, stA, DispatcherOptions{Workers: 1, Lease: 3 * time.Second, Holder: "worker-a"})
	a.trigger("a/x:1")
	b := a.started()

	stB := openStore(t, path) // another process on the same database
	other := NewDispatcher(stB, newFakeExec(stB), DispatcherOptions{Workers: 1, Lease: 3 * time.Second, Holder: "server-b"})
	asked := time.Now()
	if err := other.Cancel(context.Background(), b.ID, "bob"); err != nil {
		t.Fatalf("Cancel on the other server: %v", err)
	}
	got := a.status(b.ID, pipeline.StatusCancelled)
	took := time.Since(asked)
	t.Logf("cancelled %v after it was asked on the other server", took)
	if got.Reason != "cancelled by bob" {
		t.Errorf("reason %q, want cancelled by bob", got.Reason)
	}
	if took > 2*cancelPoll+3*time.Second {
		t.Errorf("cancelled %v after the request, want within about %v", took, cancelPoll)
	}
}

// TestDispatcherOneBuildPerRepositoryAcrossServers: a server does not claim
// a build of an image repository that another server (or worker) sharing
// the store is building, since both would push NAME:test; it claims it once
// that build ended.
func TestDispatcherOneBuildPerRepositoryAcrossServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	stA := openStore(t, path, "a/x:1", "a/x:2")
	a := runOn(t, stA, stA, DispatcherOptions{Workers: 1, Lease: 3 * time.Second, Holder: "worker-a"})
	a.trigger("a/x:1")
	first := a.started()

	stB := openStore(t, path)
	b := runOn(t, stB, stB, DispatcherOptions{Workers: 1, Lease: 3 * time.Second, Holder: "worker-b"})
	b.trigger("a/x:2")
	b.quiet() // a/x:1 runs on a: a/x:2 waits
	a.exec.release <- struct{}{}
	a.status(first.ID, pipeline.StatusSucceeded)
	var second pipeline.Build
	select {
	case second = <-b.exec.started:
	case second = <-a.exec.started:
	case <-time.After(10 * time.Second):
		t.Fatal("a/x:2 did not start once a/x:1 ended")
	}
	if second.Project != "a/x:2" {
		t.Fatalf("started %s, want a/x:2", second.Project)
	}
}

// TestDispatcherRestartRetriesAtOnce: a process restarted on the same data
// folder (the same Instance) takes the builds its killed predecessor held
// again at once, as their next attempt, without waiting for their leases
// to run out.
func TestDispatcherRestartRetriesAtOnce(t *testing.T) {
	const lease = time.Minute // far longer than the test may wait
	path := filepath.Join(t.TempDir(), "hoist.db")
	stA := openStore(t, path, "a/x:1")
	cut := &dropRenewals{DispatchStore: stA}
	cut.drop.Store(true) // killed: it renews nothing more
	a := runOn(t, cut, stA, DispatcherOptions{Workers: 1, Lease: lease, Instance: "inst1"})
	a.trigger("a/x:1")
	first := a.started()

	stB := openStore(t, path) // the restarted process
	b := runOn(t, stB, stB, DispatcherOptions{Workers: 1, Lease: lease, Instance: "inst1"})
	second := b.started()
	if second.ID != first.ID || second.Attempt != 2 {
		t.Fatalf("the restarted process started build %d attempt %d, want build %d attempt 2", second.ID, second.Attempt, first.ID)
	}
	if took := time.Since(first.Started); took > lease/2 {
		t.Errorf("attempt 2 started %v after attempt 1, want at once (the lease is %v)", took, lease)
	}
	b.exec.release <- struct{}{}
	if got := b.status(first.ID, pipeline.StatusSucceeded); got.Attempt != 2 {
		t.Errorf("finished: attempt %d, want 2", got.Attempt)
	}
}

// lateRenewalExec records a build's end, then returns only once the lease
// renewal that comes after it has cancelled the build's context: the
// renewal finds the build no longer running and reports the lease lost.
type lateRenewalExec struct{ store DispatchStore }

func (e lateRenewalExec) Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, _ pipeline.BuildInputs) (pipeline.Build, error) {
	b.Status, b.Digest, b.Finished = pipeline.StatusSucceeded, "sha256:new", time.Now()
	if err := e.store.UpdateBuild(context.Background(), b); err != nil {
		return b, err
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return b, nil
}

// TestDispatcherEndBeatsALateRenewal: a build whose runner recorded its
// end is reported finished, and its children are queued, even when a lease
// renewal ticks between that record and the runner's return (it finds the
// build ended and reports the lease lost). CI's TestServe lost a cascade so.
func TestDispatcherEndBeatsALateRenewal(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "hoist.db"), "a/x:1")
	obs := &observer{done: map[int64]pipeline.Build{}}
	d := NewDispatcher(st, lateRenewalExec{st}, DispatcherOptions{Workers: 1, Lease: 300 * time.Millisecond, Poll: 20 * time.Millisecond, Observer: obs})
	ctx, stop := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { stop(errors.New("test over")); <-done }()
	b, _, err := st.Enqueue(context.Background(), "a/x:1", "test", time.Now())
	must(t, err)
	d.signal()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got, ok := obs.get(b.ID); ok {
			if got.Status != pipeline.StatusSucceeded {
				t.Errorf("reported %s, want succeeded", got.Status)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the dispatcher never reported the build finished: it took the late renewal's lost lease for another runner's")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gateObserver holds each finished build's report until released: the
// moment between a build's end and its cascade, stretched.
type gateObserver struct {
	ended   chan pipeline.Build
	release chan struct{}
}

func (g *gateObserver) BuildFinished(b pipeline.Build) {
	g.ended <- b
	<-g.release
}

// TestDispatcherChildWaitsForCascadeAcrossServers: a child queued while
// its parent runs on server A is not claimed by server B between the
// parent's end and A's cascade, when the parent still holds in the store
// (pipeline.HoldStore); B claims it once A settled the parent.
func TestDispatcherChildWaitsForCascadeAcrossServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	stA := openStore(t, path, "a/p:1")
	must(t, stA.PutProject(context.Background(), proj("b/c:1", "a/p:1")))
	gate := &gateObserver{ended: make(chan pipeline.Build, 4), release: make(chan struct{})}
	var once sync.Once
	open := func() { once.Do(func() { close(gate.release) }) }
	a := &fixture{t: t, st: stA, exec: newFakeExec(stA), done: make(chan error, 1)}
	a.d = NewDispatcher(stA, a.exec, DispatcherOptions{Workers: 1, Poll: 20 * time.Millisecond, Lease: 3 * time.Second, Holder: "server-a", Observer: gate})
	rctx, stop := context.WithCancelCause(context.Background())
	a.stop = stop
	go func() { a.done <- a.d.Run(rctx) }()
	t.Cleanup(func() { open(); a.shutdown(errors.New("test over")) })

	a.trigger("a/p:1")
	parent := a.started()
	stB := openStore(t, path)
	b := runOn(t, stB, stB, DispatcherOptions{Workers: 1, Lease: 3 * time.Second, Holder: "server-b"})
	b.trigger("b/c:1")
	b.quiet() // its parent runs on a
	a.exec.release <- struct{}{}
	if got := <-gate.ended; got.ID != parent.ID {
		t.Fatalf("finished %d, want the parent %d", got.ID, parent.ID)
	}
	b.quiet() // its parent ended, but a has not queued its cascade yet
	open()
	select {
	case child := <-b.exec.started:
		if child.Project != "b/c:1" {
			t.Fatalf("started %s, want b/c:1", child.Project)
		}
	case <-a.exec.started:
	case <-time.After(10 * time.Second):
		t.Fatal("b/c:1 did not start once its parent was settled")
	}
}
