package sched

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// lanes is the seam where builds would run, as the runner does: a build
// hands its worker back (pipeline.HandOff) as its build stage would end,
// then waits for its project's release, or for its context.
type lanes struct {
	started chan string
	mu      sync.Mutex
	release map[string]chan struct{}
	ended   map[string]bool
	repos   map[string]int
	maxRepo int
	early   []string // "child before parent" for builds started before a parent ended
}

func newLanes() *lanes {
	return &lanes{started: make(chan string, 100), release: map[string]chan struct{}{}, ended: map[string]bool{}, repos: map[string]int{}}
}

func (l *lanes) gate(key string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.release[key] == nil {
		l.release[key] = make(chan struct{})
	}
	return l.release[key]
}

// build runs p's build: it returns the status it ended with.
func (l *lanes) build(ctx context.Context, p pipeline.Project) (pipeline.Status, string) {
	repo := p.Image().Repository()
	l.mu.Lock()
	for _, d := range p.DependsOn {
		if !l.ended[d.String()] {
			l.early = append(l.early, p.Key()+" before "+d.String())
		}
	}
	l.repos[repo]++
	l.maxRepo = max(l.maxRepo, l.repos[repo])
	l.mu.Unlock()
	l.started <- p.Key()
	pipeline.HandOff(ctx) // the build stage ended
	status, reason := pipeline.StatusSucceeded, ""
	select {
	case <-l.gate(p.Key()):
	case <-ctx.Done():
		status, reason = pipeline.StatusCancelled, context.Cause(ctx).Error()
	}
	l.mu.Lock()
	l.repos[repo]--
	l.ended[p.Key()] = true
	l.mu.Unlock()
	return status, reason
}

// next waits for the next build to start.
func (l *lanes) next(t *testing.T) string {
	t.Helper()
	select {
	case k := <-l.started:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("no build started: the worker is still held by a build past its build stage")
	}
	return ""
}

// quiet checks that no build starts for a while.
func (l *lanes) quiet(t *testing.T) {
	t.Helper()
	select {
	case k := <-l.started:
		t.Fatalf("%s started, want none", k)
	case <-time.After(300 * time.Millisecond):
	}
}

// lanesRunner is a Runner (hoist run's side) over lanes.
type lanesRunner struct{ *lanes }

func (l lanesRunner) Run(ctx context.Context, p pipeline.Project, cause string, _ pipeline.BuildInputs) (pipeline.Build, error) {
	status, reason := l.build(ctx, p)
	return pipeline.Build{Project: p.Key(), Status: status, Reason: reason}, nil
}

func (l lanesRunner) Skip(ctx context.Context, p pipeline.Project, cause, reason string) (pipeline.Build, error) {
	return pipeline.Build{Project: p.Key(), Status: pipeline.StatusSkipped, Reason: reason}, nil
}

// lanesExec is an Executor (hoist serve's side) over lanes.
type lanesExec struct {
	*lanes
	store DispatchStore
}

func (l lanesExec) Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, _ pipeline.BuildInputs) (pipeline.Build, error) {
	b.Status, b.Reason = l.build(ctx, p)
	b.Finished = time.Now()
	return b, l.store.UpdateBuild(context.Background(), b)
}

// TestBatchHandOff: with one worker, a second build starts while the first
// is past its build stage; a child still waits for its parent's whole
// build, and a second build of one repository for the first's end.
func TestBatchHandOff(t *testing.T) {
	l := newLanes()
	projects := []pipeline.Project{
		proj("a/one:1"),
		proj("a/two:1"),
		proj("b/child:1", "a/one:1"),
		proj("a/one:2"),
	}
	done := make(chan []Result, 1)
	go func() { done <- Batch(context.Background(), lanesRunner{l}, nil, projects, 1, "test") }()
	if got := l.next(t); got != "a/one:1" {
		t.Fatalf("%s started first, want a/one:1", got)
	}
	if got := l.next(t); got != "a/two:1" {
		t.Fatalf("%s started second, want a/two:1", got)
	}
	l.quiet(t) // b/child:1 waits for a/one:1's whole build, a/one:2 for its repository
	close(l.gate("a/one:1"))
	got := []string{l.next(t), l.next(t)}
	slices.Sort(got)
	if want := []string{"a/one:2", "b/child:1"}; !slices.Equal(got, want) {
		t.Fatalf("started %v after a/one:1 ended, want %v", got, want)
	}
	select {
	case <-done:
		t.Fatal("Batch returned while builds ran")
	case <-time.After(100 * time.Millisecond):
	}
	for _, k := range []string{"a/two:1", "b/child:1", "a/one:2"} {
		close(l.gate(k))
	}
	for _, r := range <-done {
		if !r.OK() {
			t.Errorf("%s: %s %q", r.Project.Key(), r.Build.Status, r.Build.Reason)
		}
	}
	if len(l.early) > 0 || l.maxRepo != 1 {
		t.Errorf("children before parents: %v; %d builds of one repository at once, want 1", l.early, l.maxRepo)
	}
}

// TestDispatcherHandOff: the same for hoist serve's dispatcher, and
// stopping the server cancels the builds that handed their worker back.
func TestDispatcherHandOff(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/hoist.db")
	must(t, err)
	defer st.Close()
	for _, p := range []pipeline.Project{proj("a/one:1"), proj("a/two:1"), proj("b/child:1", "a/one:1"), proj("a/one:2")} {
		must(t, st.PutProject(ctx, p))
	}
	l := newLanes()
	d := NewDispatcher(st, lanesExec{l, st}, DispatcherOptions{Workers: 1, Poll: 20 * time.Millisecond})
	rctx, stop := context.WithCancelCause(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	defer stop(errors.New("test over"))
	trigger := func(key string) pipeline.Build {
		b, _, err := d.Trigger(ctx, key, "test")
		must(t, err)
		return b
	}

	one := trigger("a/one:1")
	if got := l.next(t); got != "a/one:1" {
		t.Fatalf("%s started, want a/one:1", got)
	}
	two := trigger("a/two:1")
	if got := l.next(t); got != "a/two:1" {
		t.Fatalf("%s started, want a/two:1", got)
	}
	child, other := trigger("b/child:1"), trigger("a/one:2")
	l.quiet(t) // b/child:1 waits for a/one:1's whole build, a/one:2 for its repository
	close(l.gate("a/one:1"))
	got := []string{l.next(t), l.next(t)}
	slices.Sort(got)
	if want := []string{"a/one:2", "b/child:1"}; !slices.Equal(got, want) {
		t.Fatalf("started %v after a/one:1 ended, want %v", got, want)
	}
	if b, err := st.Build(ctx, one.ID); err != nil || b.Status != pipeline.StatusSucceeded {
		t.Errorf("a/one:1: %+v %v", b, err)
	}

	// The three left have handed their worker back: stopping the server
	// cancels them, and Run returns once they are recorded.
	stop(errors.New("server stopping"))
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, id := range []int64{two.ID, child.ID, other.ID} {
		b, err := st.Build(ctx, id)
		must(t, err)
		if b.Status != pipeline.StatusCancelled || b.Reason != "server stopping" {
			t.Errorf("build %d of %s: %s %q, want cancelled: server stopping", id, b.Project, b.Status, b.Reason)
		}
	}
	if len(l.early) > 0 || l.maxRepo != 1 {
		t.Errorf("children before parents: %v; %d builds of one repository at once, want 1", l.early, l.maxRepo)
	}
}
