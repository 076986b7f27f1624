package sched

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// fakeExec is the seam where builds would run: each build waits for a
// release or for its context, and the fake records how many ran at once.
type fakeExec struct {
	store   DispatchStore
	started chan pipeline.Build
	release chan struct{}

	mu        sync.Mutex
	active    int
	maxActive int
	repos     map[string]int
	maxRepo   int
	projects  map[string]int
	maxProj   int
}

func newFakeExec(st DispatchStore) *fakeExec {
	return &fakeExec{store: st, started: make(chan pipeline.Build, 100), release: make(chan struct{}),
		repos: map[string]int{}, projects: map[string]int{}}
}

func (f *fakeExec) Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, _ pipeline.BuildInputs) (pipeline.Build, error) {
	repo := p.Image().Repository()
	f.mu.Lock()
	f.active++
	f.repos[repo]++
	f.projects[p.Key()]++
	f.maxActive, f.maxRepo, f.maxProj = max(f.maxActive, f.active), max(f.maxRepo, f.repos[repo]), max(f.maxProj, f.projects[p.Key()])
	f.mu.Unlock()
	f.started <- b
	select {
	case <-f.release:
		b.Status = pipeline.StatusSucceeded
	case <-ctx.Done():
		b.Status, b.Reason = pipeline.StatusCancelled, context.Cause(ctx).Error()
	}
	f.mu.Lock()
	f.active--
	f.repos[repo]--
	f.projects[p.Key()]--
	f.mu.Unlock()
	b.Finished = time.Now()
	return b, f.store.UpdateBuild(context.Background(), b)
}

// observer records the builds the dispatcher reports finished.
type observer struct {
	mu   sync.Mutex
	done map[int64]pipeline.Build
}

func (o *observer) BuildFinished(b pipeline.Build) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done[b.ID] = b
}

func (o *observer) get(id int64) (pipeline.Build, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, ok := o.done[id]
	return b, ok
}

type fixture struct {
	t    *testing.T
	st   *sqlite.Store
	exec *fakeExec
	obs  *observer
	d    *Dispatcher
	stop context.CancelCauseFunc
	done chan error
}

// start opens a real store holding projects and runs a dispatcher on it;
// before, if not nil, prepares the store first.
func start(t *testing.T, workers int, keys []string, before func(*sqlite.Store)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	must(t, err)
	for _, k := range keys {
		must(t, st.PutProject(ctx, proj(k)))
	}
	if before != nil {
		before(st)
	}
	f := &fixture{t: t, st: st, exec: newFakeExec(st), obs: &observer{done: map[int64]pipeline.Build{}}, done: make(chan error, 1)}
	f.d = NewDispatcher(st, f.exec, DispatcherOptions{Workers: workers, Poll: 20 * time.Millisecond, Observer: f.obs})
	rctx, stop := context.WithCancelCause(ctx)
	f.stop = stop
	go func() { f.done <- f.d.Run(rctx) }()
	t.Cleanup(func() {
		f.shutdown(errors.New("test over"))
		st.Close()
	})
	return f
}

func (f *fixture) shutdown(cause error) {
	f.t.Helper()
	f.stop(cause)
	select {
	case err := <-f.done:
		if err != nil {
			f.t.Errorf("Run: %v", err)
		}
		f.done <- nil // later calls return at once
	case <-time.After(10 * time.Second):
		f.t.Fatal("Run did not return after its context ended")
	}
}

func (f *fixture) trigger(key string) (pipeline.Build, bool) {
	f.t.Helper()
	b, joined, err := f.d.Trigger(context.Background(), key, "test")
	must(f.t, err)
	return b, joined
}

// started waits for the next build to start.
func (f *fixture) started() pipeline.Build {
	f.t.Helper()
	select {
	case b := <-f.exec.started:
		return b
	case <-time.After(10 * time.Second):
		f.t.Fatal("no build started")
	}
	return pipeline.Build{}
}

// quiet checks that no build starts for a while.
func (f *fixture) quiet() {
	f.t.Helper()
	select {
	case b := <-f.exec.started:
		f.t.Fatalf("build %d of %s started, want none", b.ID, b.Project)
	case <-time.After(150 * time.Millisecond):
	}
}

// status waits until the stored build id has status want, and returns it.
func (f *fixture) status(id int64, want pipeline.Status) pipeline.Build {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := f.st.Build(context.Background(), id)
		must(f.t, err)
		if b.Status == want {
			return b
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("build %d is %s (%s), want %s", id, b.Status, b.Reason, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDispatcherGlobalCap(t *testing.T) {
	keys := []string{"a/one:1", "a/two:1", "a/three:1", "a/four:1", "a/five:1"}
	f := start(t, 2, keys, nil)
	var ids []int64
	for _, k := range keys {
		b, _ := f.trigger(k)
		ids = append(ids, b.ID)
	}
	f.started()
	f.started()
	f.quiet()
	for range keys[2:] {
		f.exec.release <- struct{}{}
		f.started()
	}
	f.exec.release <- struct{}{}
	f.exec.release <- struct{}{}
	for _, id := range ids {
		f.status(id, pipeline.StatusSucceeded)
	}
	if f.exec.maxActive != 2 {
		t.Errorf("%d builds ran at once, want 2", f.exec.maxActive)
	}
}

func TestDispatcherPerProjectAndJoining(t *testing.T) {
	f := start(t, 4, []string{"a/app:1"}, nil)
	first, joined := f.trigger("a/app:1")
	if joined {
		t.Fatal("the first trigger joined a build")
	}
	if b := f.started(); b.ID != first.ID {
		t.Fatalf("started %d, want %d", b.ID, first.ID)
	}
	second, joined := f.trigger("a/app:1")
	if joined || second.ID == first.ID {
		t.Fatalf("second trigger: build %d joined %v, want a new queued build", second.ID, joined)
	}
	third, joined := f.trigger("a/app:1")
	if !joined || third.ID != second.ID {
		t.Errorf("third trigger: build %d joined %v, want to join %d", third.ID, joined, second.ID)
	}
	f.quiet() // one at a time per project, though 3 workers are idle
	f.exec.release <- struct{}{}
	if b := f.started(); b.ID != second.ID {
		t.Fatalf("started %d, want %d", b.ID, second.ID)
	}
	f.exec.release <- struct{}{}
	f.status(second.ID, pipeline.StatusSucceeded)
	builds, err := f.st.Builds(context.Background(), "a/app:1", 0)
	must(t, err)
	if len(builds) != 2 || f.exec.maxProj != 1 {
		t.Errorf("%d builds, %d at once; want 2, 1 at once", len(builds), f.exec.maxProj)
	}
	if _, _, err := f.d.Trigger(context.Background(), "a/nothing:1", "test"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("triggering an unknown project: %v, want ErrNotFound", err)
	}
}

func TestDispatcherOneBuildPerRepository(t *testing.T) {
	f := start(t, 2, []string{"a/app:1", "a/app:2"}, nil)
	one, _ := f.trigger("a/app:1")
	two, _ := f.trigger("a/app:2")
	f.started()
	f.quiet()
	f.exec.release <- struct{}{}
	f.started()
	f.exec.release <- struct{}{}
	f.status(one.ID, pipeline.StatusSucceeded)
	f.status(two.ID, pipeline.StatusSucceeded)
	if f.exec.maxRepo != 1 {
		t.Errorf("%d builds of a/app ran at once, want 1", f.exec.maxRepo)
	}
}

func TestDispatcherCancel(t *testing.T) {
	ctx := context.Background()
	f := start(t, 1, []string{"a/one:1", "a/two:1"}, nil)
	running, _ := f.trigger("a/one:1")
	f.started()
	queued, _ := f.trigger("a/two:1")

	must(t, f.d.Cancel(ctx, queued.ID, "alice"))
	b := f.status(queued.ID, pipeline.StatusCancelled)
	if b.Reason != "cancelled by alice" {
		t.Errorf("queued build reason %q", b.Reason)
	}
	if o, ok := f.obs.get(queued.ID); !ok || o.Status != pipeline.StatusCancelled {
		t.Errorf("observer heard %+v, %v", o, ok)
	}
	if err := f.d.Cancel(ctx, queued.ID, "alice"); !errors.Is(err, pipeline.ErrFinished) {
		t.Errorf("cancelling it again: %v, want ErrFinished", err)
	}
	if err := f.d.Cancel(ctx, 9999, "alice"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("cancelling no build: %v, want ErrNotFound", err)
	}

	must(t, f.d.Cancel(ctx, running.ID, "bob"))
	b = f.status(running.ID, pipeline.StatusCancelled)
	if b.Reason != "cancelled by bob" {
		t.Errorf("running build reason %q: the executor did not see the cause", b.Reason)
	}
	f.quiet() // the cancelled queued build never runs
}

func TestDispatcherRestart(t *testing.T) {
	ctx := context.Background()
	var crashed, waiting, orphan pipeline.Build
	f := start(t, 2, []string{"a/one:1", "a/two:1"}, func(st *sqlite.Store) {
		var err error
		crashed, _, err = st.Enqueue(ctx, "a/one:1", "test", time.Now())
		must(t, err)
		_, err = st.Claim(ctx, time.Now()) // running when the last server died
		must(t, err)
		waiting, _, err = st.Enqueue(ctx, "a/two:1", "test", time.Now())
		must(t, err)
		orphan, _, err = st.Enqueue(ctx, "gone/app:1", "test", time.Now())
		must(t, err)
	})
	b := f.status(crashed.ID, pipeline.StatusFailed)
	if b.Reason != InterruptedReason {
		t.Errorf("interrupted build reason %q", b.Reason)
	}
	if s := f.started(); s.ID != waiting.ID {
		t.Errorf("started %d, want the queued %d", s.ID, waiting.ID)
	}
	b = f.status(orphan.ID, pipeline.StatusFailed)
	if b.Reason != "project gone/app:1 no longer exists: it was removed after this build was queued" {
		t.Errorf("orphan build reason %q", b.Reason)
	}

	// Stopping the server cancels what runs, with the stop's cause.
	f.shutdown(errors.New("server stopping"))
	if b := f.status(waiting.ID, pipeline.StatusCancelled); b.Reason != "server stopping" {
		t.Errorf("build running at stop: reason %q", b.Reason)
	}
	active, err := f.st.Active(ctx)
	must(t, err)
	if len(active) != 0 {
		t.Errorf("active builds after stop: %+v", active)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDispatcherRecover: a server fails the builds the last one left
// running before it answers anyone (Recover, before Run starts), and once.
func TestDispatcherRecover(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	must(t, err)
	defer st.Close()
	must(t, st.PutProject(ctx, proj("a/one:1")))
	crashed, _, err := st.Enqueue(ctx, "a/one:1", "test", time.Now())
	must(t, err)
	_, err = st.Claim(ctx, time.Now())
	must(t, err)
	d := NewDispatcher(st, newFakeExec(st), DispatcherOptions{Workers: 1})
	must(t, d.Recover(ctx))
	b, err := st.Build(ctx, crashed.ID)
	must(t, err)
	if b.Status != pipeline.StatusFailed || b.Reason != InterruptedReason {
		t.Fatalf("after Recover, before Run: %s %q, want failed %q", b.Status, b.Reason, InterruptedReason)
	}
	// A build claimed after Recover (by this server) is not failed again.
	again, _, err := st.Enqueue(ctx, "a/one:1", "test", time.Now())
	must(t, err)
	_, err = st.Claim(ctx, time.Now())
	must(t, err)
	must(t, d.Recover(ctx))
	if b, err := st.Build(ctx, again.ID); err != nil || b.Status != pipeline.StatusRunning {
		t.Errorf("a second Recover touched build %d: %s %v", again.ID, b.Status, err)
	}
}
