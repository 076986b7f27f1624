package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// InterruptedReason is the reason given to builds that were running when a
// server stopped without finishing them (a crash, SIGKILL, a power cut).
const InterruptedReason = "interrupted: the server stopped while this build ran"

// Executor runs a build that is already stored and marked running, and
// records how it ended; runner.Runner.Execute is one. It must stop soon
// after ctx is cancelled and then end the build cancelled, with
// context.Cause(ctx) as the reason. The error is for failures to record the
// build. Called from several goroutines at once, never twice for one
// project at the same time.
type Executor interface {
	Execute(ctx context.Context, p pipeline.Project, b pipeline.Build) (pipeline.Build, error)
}

// DispatchStore is what the dispatcher keeps the queue, projects and builds
// in. Several dispatchers, in one process or several, may share one.
type DispatchStore interface {
	pipeline.QueueStore
	pipeline.ProjectStore
	pipeline.BuildStore
	pipeline.BuildPages
	pipeline.GraphStore
	pipeline.QueuePicker
	pipeline.BuildPins
}

// BuildObserver hears about every build the dispatcher ends: run, failed
// before it could run, or cancelled while queued. Called from several
// goroutines at once.
type BuildObserver interface {
	BuildFinished(b pipeline.Build)
}

// DispatcherOptions configure a Dispatcher.
type DispatcherOptions struct {
	Workers  int           // builds run at once up to the end of their build stage (see pipeline.HandOff); default 1
	Poll     time.Duration // how often idle workers look for queued builds; default 1 s
	Logger   *slog.Logger  // nil: discard
	Observer BuildObserver // nil: nobody
}

// Dispatcher runs the builds queued in a store, as a long-lived service
// does: at most Workers at once up to the end of their build stage (then
// a build hands its worker back, pipeline.HandOff, and goes on by itself;
// the executor bounds those), one at a time per project (the store's
// Claim sees to that, also across servers sharing the database), and one at
// a time per image repository in this process (their NAME:test tags would
// race). It is safe for concurrent use.
type Dispatcher struct {
	store DispatchStore
	exec  Executor
	opts  DispatcherOptions
	wake  chan struct{}

	mu      sync.Mutex
	running map[int64]context.CancelCauseFunc // builds this process runs
	repos   map[string]chan struct{}          // a one-slot lock per image repository
	// inflight counts, by project, the builds claimed here whose cascade
	// has not been queued yet: their children must still wait.
	inflight map[string]int
	graphs   graphCache
	// recovered is set once Recover has failed the builds an earlier
	// server left running.
	recovered bool
	builds    sync.WaitGroup // the builds claimed here, until they end
}

// NewDispatcher returns a Dispatcher; Run starts it.
func NewDispatcher(store DispatchStore, exec Executor, opts DispatcherOptions) *Dispatcher {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{store: store, exec: exec, opts: opts,
		wake:    make(chan struct{}, opts.Workers),
		running: map[int64]context.CancelCauseFunc{}, repos: map[string]chan struct{}{},
		inflight: map[string]int{}}
}

// Run fails the builds left running by an earlier server (see
// InterruptedReason), then runs queued builds until ctx ends. Builds left
// queued simply run. Builds still running when ctx ends are cancelled with
// its cause; Run returns once they have been recorded.
//
// Failing interrupted builds rather than queueing them again is deliberate:
// a build cut off halfway may have pushed NAME:test or half-tagged a
// delivery, and a user who wants it again presses Build. With several
// servers sharing one database, a server starting fails the builds the
// others are running too: until builds are leased with a heartbeat, run
// one server per database, or start them together.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.Recover(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for range d.opts.Workers {
		wg.Go(func() { d.work(ctx) })
	}
	wg.Wait()
	d.builds.Wait() // those handed off go on without a worker
	return nil
}

// Recover fails the builds an earlier server left running (see Run), once;
// Run calls it, and a server calls it before it answers requests, so that
// nobody sees such a build still running after a restart.
func (d *Dispatcher) Recover(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.recovered {
		return nil
	}
	n, err := d.store.FailRunning(ctx, InterruptedReason, time.Now())
	if err != nil {
		return err
	}
	d.recovered = true
	if n > 0 {
		d.opts.Logger.Warn("failed builds interrupted by the last stop", "builds", n)
	}
	return nil
}

// Trigger queues a build of the project with key, or joins the one already
// queued (joined true), which then takes cause (latest-only).
// pipeline.ErrNotFound itself when there is no such
// project, for the caller to name it; pipeline.ErrDisabled when the project
// is disabled.
func (d *Dispatcher) Trigger(ctx context.Context, key, cause string) (pipeline.Build, bool, error) {
	b, joined, err := d.enqueue(ctx, key, cause)
	if err != nil {
		return b, joined, err
	}
	d.signal()
	return b, joined, nil
}

// enqueue queues a build of key or joins the queued one, which then takes
// cause. It wakes no worker.
func (d *Dispatcher) enqueue(ctx context.Context, key, cause string) (pipeline.Build, bool, error) {
	p, err := d.store.Project(ctx, key)
	if err != nil {
		if errors.Is(err, pipeline.ErrNotFound) {
			return pipeline.Build{}, false, pipeline.ErrNotFound
		}
		return pipeline.Build{}, false, fmt.Errorf("triggering %s: %w", key, err)
	}
	if p.Disabled {
		return pipeline.Build{}, false, pipeline.ErrDisabled
	}
	b, joined, err := d.store.Enqueue(ctx, key, cause, time.Now())
	if err != nil {
		return b, false, err
	}
	if joined && b.Cause != cause { // latest-only: the newest cause is kept
		if err := d.store.SetQueuedCause(ctx, b.ID, cause); err != nil {
			return b, joined, err
		}
		b.Cause = cause
	}
	return b, joined, nil
}

// Cancel cancels the build with id: a queued build is marked cancelled at
// once; a running one has its context cancelled with the cause "cancelled
// by <by>", which stops its engine work, and is recorded as cancelled when
// it has stopped. pipeline.ErrNotFound itself for no such build, and
// pipeline.ErrFinished when it has ended, for the caller to name it.
func (d *Dispatcher) Cancel(ctx context.Context, id int64, by string) error {
	reason := "cancelled by " + by
	// Holding mu, no worker can claim the build between the checks below.
	d.mu.Lock()
	defer d.mu.Unlock()
	if cancel, ok := d.running[id]; ok {
		cancel(errors.New(reason))
		return nil
	}
	ok, err := d.store.CancelQueued(ctx, id, reason, time.Now())
	if err != nil {
		return err
	}
	b, err := d.store.Build(ctx, id)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
		return pipeline.ErrNotFound
	case err != nil:
		return fmt.Errorf("cancelling build %d: %w", id, err)
	case ok:
		d.finished(b)
		return nil
	case b.Status.Done():
		return pipeline.ErrFinished
	}
	return fmt.Errorf("build %d: %w sharing this database; cancel it there", id, pipeline.ErrElsewhere)
}

// signal wakes an idle worker, if one is waiting.
func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// work claims and runs builds until ctx ends.
func (d *Dispatcher) work(ctx context.Context) {
	idle := time.NewTimer(d.opts.Poll)
	defer idle.Stop()
	for ctx.Err() == nil {
		b, bctx, err := d.claim(ctx)
		if err == nil {
			d.signal() // another build may be ready for another worker
			d.start(bctx, b)
			continue
		}
		if !errors.Is(err, pipeline.ErrNotFound) && ctx.Err() == nil {
			d.opts.Logger.Error("claiming a build", "err", err)
		}
		idle.Reset(d.opts.Poll)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-idle.C:
		}
	}
}

// claim takes a queued build and registers it as running here, with a
// context Cancel can cancel.
func (d *Dispatcher) claim(ctx context.Context) (pipeline.Build, context.Context, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := d.claimReady(ctx)
	if err != nil {
		return b, nil, err
	}
	bctx, cancel := context.WithCancelCause(ctx)
	d.running[b.ID] = cancel
	d.inflight[b.Project]++
	return b, bctx, nil
}

// start runs a claimed build and returns when it has ended, or when its
// build stage has ended and it hands its worker back (pipeline.HandOff):
// it then goes on by itself, and stays running here (in running, inflight
// and its repository's lock) until it ends.
func (d *Dispatcher) start(ctx context.Context, b pipeline.Build) {
	handed := make(chan struct{})
	ctx = pipeline.WithHandoff(ctx, func() { close(handed) })
	ended := make(chan struct{})
	d.builds.Go(func() {
		defer close(ended)
		d.run(ctx, b)
	})
	select {
	case <-ended:
	case <-handed:
	}
}

// run executes a claimed build and records its end.
func (d *Dispatcher) run(ctx context.Context, b pipeline.Build) {
	defer func() {
		d.mu.Lock()
		d.running[b.ID](nil)
		delete(d.running, b.ID)
		if d.inflight[b.Project]--; d.inflight[b.Project] <= 0 {
			delete(d.inflight, b.Project)
		}
		d.mu.Unlock()
		d.signal() // its children, or its repository's next build, may be ready
	}()
	log := d.opts.Logger.With("build", b.ID, "project", b.Project, "number", b.Number)
	p, err := d.store.Project(ctx, b.Project)
	if err != nil {
		reason := fmt.Sprintf("loading project %s: %v", b.Project, err)
		if errors.Is(err, pipeline.ErrNotFound) {
			reason = fmt.Sprintf("project %s no longer exists: it was removed after this build was queued", b.Project)
		}
		d.fail(log, b, reason)
		return
	}
	if p.Disabled {
		d.fail(log, b, fmt.Sprintf("project %s was disabled after this build was queued: its entry left the index", b.Project))
		return
	}
	unlock := d.lockRepo(ctx, p.Image().Repository())
	defer unlock()
	log.Info("build started")
	end, err := d.exec.Execute(ctx, p, b)
	if err != nil {
		log.Error("recording the build", "err", err)
		if !end.Status.Done() {
			d.fail(log, b, err.Error())
			return
		}
	}
	log.Info("build finished", "status", end.Status, "reason", end.Reason)
	d.finished(end)
	d.cascade(end)
}

// fail ends a claimed build that could not run, with reason.
func (d *Dispatcher) fail(log *slog.Logger, b pipeline.Build, reason string) {
	b.Status, b.Reason, b.Finished = pipeline.StatusFailed, reason, time.Now().UTC()
	if err := d.store.UpdateBuild(context.Background(), b); err != nil {
		log.Error("recording the failed build", "reason", reason, "err", err)
	}
	log.Warn("build failed before it ran", "reason", reason)
	d.finished(b)
}

// lockRepo waits until no other build of repo runs in this process, or ctx
// ends (the build then runs only to be recorded cancelled). It returns the
// unlock function.
func (d *Dispatcher) lockRepo(ctx context.Context, repo string) func() {
	d.mu.Lock()
	sem, ok := d.repos[repo]
	if !ok {
		sem = make(chan struct{}, 1)
		d.repos[repo] = sem
	}
	d.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }
	case <-ctx.Done():
		return func() {}
	}
}

func (d *Dispatcher) finished(b pipeline.Build) {
	if d.opts.Observer != nil {
		d.opts.Observer.BuildFinished(b)
	}
}
