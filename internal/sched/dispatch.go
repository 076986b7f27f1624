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

// InterruptedReason is the reason given to builds that were running without
// a lease (claimed by a server before leases, or by Claim) when a server
// starts: nobody renews them, so nobody runs them.
const InterruptedReason = "interrupted: the server stopped while this build ran"

// Executor runs a build that is already stored and marked running, with the
// inputs the dispatcher read for it (ReadInputs), and records how it ended;
// runner.Runner.Execute is one. It must stop soon
// after ctx is cancelled and then end the build cancelled, with
// context.Cause(ctx) as the reason, unless that cause wraps
// pipeline.ErrLeaseLost (another runner took the build): then it records
// nothing more and returns an error wrapping it. The error is otherwise for
// failures to record the build. Called from several goroutines at once, never twice for one
// project at the same time.
type Executor interface {
	Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, in pipeline.BuildInputs) (pipeline.Build, error)
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
	pipeline.LeaseStore
	pipeline.HoldStore
	pipeline.ImageStore
}

// BuildObserver hears about every build the dispatcher ends: run, failed
// before it could run, or cancelled while queued. Called from several
// goroutines at once.
type BuildObserver interface {
	BuildFinished(b pipeline.Build)
}

// DispatcherOptions configure a Dispatcher.
type DispatcherOptions struct {
	// Workers is how many builds run at once up to the end of their
	// build stage (see pipeline.HandOff); default 1. One more may run: a
	// build queued again after it lost its runner (a worker killed, a
	// machine gone), which does not wait for a worker to be free.
	Workers  int
	Poll     time.Duration // how often idle workers look for queued builds; default 1 s
	Logger   *slog.Logger  // nil: discard
	Observer BuildObserver // nil: nobody
	// Lease is how long a claimed build stays held without a renewal;
	// builds are renewed every third of it. Default DefaultLease.
	Lease time.Duration
	// Instance is this process's data folder's instance id: the holder
	// of its leases begins with it, and Recover ends at once the leases an
	// earlier process of the same folder held (it is gone: one process
	// runs per data folder), so its builds are retried without waiting
	// for their leases to run out.
	Instance string
	// Holder names this dispatcher in its leases; default the host name
	// and a random part.
	Holder string
	// Retry is what becomes of a build whose lease expired; default 3
	// attempts, a backoff of a tenth of the lease doubling up to the lease.
	Retry pipeline.Retry
}

// Dispatcher runs the builds queued in a store, as a long-lived service
// does: at most Workers at once up to the end of their build stage (then
// a build hands its worker back, pipeline.HandOff, and goes on by itself;
// the executor bounds those), and one more that lost its runner elsewhere
// (DispatcherOptions.Workers), one at a time per project (the store's
// Claim sees to that, also across servers sharing the database), and one at
// a time per image repository (their NAME:test tags would race: the
// store's holds, pipeline.HoldStore, see to that across processes too). It
// is safe for concurrent use.
type Dispatcher struct {
	store DispatchStore
	exec  Executor
	opts  DispatcherOptions
	wake  chan struct{}
	// retryWake wakes the worker that runs only the builds queued again
	// after they lost their runner (retries).
	retryWake chan struct{}

	mu      sync.Mutex
	running map[int64]*runEntry // builds this process runs
	graphs  graphCache
	// recovered is set once Recover has dealt with the builds an earlier
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
	leaseDefaults(&opts)
	return &Dispatcher{store: store, exec: exec, opts: opts,
		wake:      make(chan struct{}, opts.Workers),
		retryWake: make(chan struct{}, 1),
		running:   map[int64]*runEntry{}}
}

// Run deals with the builds left running by an earlier server (Recover),
// then runs queued builds until ctx ends. Builds left queued simply run.
// Every build it claims is leased to it and renewed while it runs; every
// third of the lease it queues again the builds whose runners stopped
// renewing theirs, here or in another process sharing the store (see
// pipeline.LeaseStore). Builds still running when ctx ends are cancelled
// with its cause; Run returns once they have been recorded.
//
// A retried build runs again from checkout, in a fresh workspace; its
// deliver stage sees a tag its lost attempt already moved and does not move
// it again.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.Recover(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { d.expireLeases(ctx) })
	for range d.opts.Workers {
		wg.Go(func() { d.work(ctx, false) })
	}
	// A build that lost its runner runs again within about twice the
	// lease, even when every worker is busy: its first attempt already
	// had a worker, which is gone.
	wg.Go(func() { d.work(ctx, true) })
	wg.Wait()
	d.builds.Wait() // those handed off go on without a worker
	return nil
}

// Recover, once, fails the builds left running without a lease (see
// InterruptedReason) and expires the leases that have run out; leased
// builds whose runners may still live (another server's, or this host's
// last process's until its lease ends) are left to expire. Run calls it,
// and a server calls it before it answers requests.
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
	if n > 0 {
		d.opts.Logger.Warn("failed builds left running without a lease", "builds", n)
	}
	if d.opts.Instance != "" {
		n, err := d.store.ReleaseLeases(ctx, d.opts.Instance+"/", time.Now())
		if err != nil {
			return err
		}
		if n > 0 {
			d.opts.Logger.Warn("the last process of this data folder left builds running: they run again", "builds", n)
		}
	}
	if err := d.expire(ctx); err != nil {
		return err
	}
	d.recovered = true
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
	if r, ok := d.running[id]; ok {
		r.cancel(errors.New(reason))
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
	// Running elsewhere: its runner reads the request as it renews the
	// lease (keepLease) and cancels it.
	asked, err := d.store.RequestCancel(ctx, id, reason)
	switch {
	case err != nil:
		return fmt.Errorf("cancelling build %d: %w", id, err)
	case asked:
		return nil
	}
	return fmt.Errorf("build %d: %w sharing this database without a lease, which cannot be asked to cancel it; cancel it there", id, pipeline.ErrElsewhere)
}

// signal wakes an idle worker, if one is waiting.
func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// signalRetry wakes the worker of retries, if it is waiting.
func (d *Dispatcher) signalRetry() {
	select {
	case d.retryWake <- struct{}{}:
	default:
	}
}

// work claims and runs builds until ctx ends; only builds queued again
// after they lost their runner when retries is set.
func (d *Dispatcher) work(ctx context.Context, retries bool) {
	wake := d.wake
	if retries {
		wake = d.retryWake
	}
	idle := time.NewTimer(d.opts.Poll)
	defer idle.Stop()
	for ctx.Err() == nil {
		b, r, err := d.claim(ctx, retries)
		if err == nil {
			d.signal() // another build may be ready for another worker
			d.start(b, r)
			continue
		}
		if !errors.Is(err, pipeline.ErrNotFound) && ctx.Err() == nil {
			d.opts.Logger.Error("claiming a build", "err", err)
		}
		idle.Reset(d.opts.Poll)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-idle.C:
		}
	}
}

// runEntry is a build running here: its context, and how to cancel it.
type runEntry struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	// lost is the entry of an earlier attempt of the build, still winding
	// down here after it lost its lease: this one runs once it ended.
	lost *runEntry
	done chan struct{} // closed when the attempt has ended here
}

// claim takes a queued build (a retry when retries is set) and registers
// it as running here, with a context Cancel can cancel. An earlier attempt
// of the same build still winding down here lost it (the store gave it out
// again): it is cancelled.
func (d *Dispatcher) claim(ctx context.Context, retries bool) (pipeline.Build, *runEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := d.claimReady(ctx, retries)
	if err != nil {
		return b, nil, err
	}
	bctx, cancel := context.WithCancelCause(ctx)
	r := &runEntry{ctx: bctx, cancel: cancel, done: make(chan struct{})}
	if old, ok := d.running[b.ID]; ok {
		old.cancel(errLeaseLost)
		r.lost = old
	}
	d.running[b.ID] = r
	return b, r, nil
}

// start runs a claimed build and returns when it has ended, or when its
// build stage has ended and it hands its worker back (pipeline.HandOff):
// it then goes on by itself, renewing its lease, and stays running here
// (in running, and holding its repository in the store) until it ends.
func (d *Dispatcher) start(b pipeline.Build, r *runEntry) {
	handed := make(chan struct{})
	ctx := pipeline.WithHandoff(r.ctx, func() { close(handed) })
	ended := make(chan struct{})
	d.builds.Go(func() {
		defer close(ended)
		d.run(ctx, b, r)
	})
	select {
	case <-ended:
	case <-handed:
	}
}

// run executes a claimed build, with ctx (r's, carrying the hand-off),
// renewing its lease, and records its end. A build another runner took
// meanwhile is left to it: nothing is recorded or reported here.
func (d *Dispatcher) run(ctx context.Context, b pipeline.Build, r *runEntry) {
	log := d.opts.Logger.With("build", b.ID, "project", b.Project, "number", b.Number, "attempt", b.Attempt)
	stop := d.keepLease(log, b, r.cancel)
	defer func() {
		stop()
		d.settle(log, b)
		d.mu.Lock()
		r.cancel(nil)
		if d.running[b.ID] == r {
			delete(d.running, b.ID)
		}
		d.mu.Unlock()
		close(r.done)
		d.signal() // its children, or its repository's next build, may be ready
	}()
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
	in, err := d.graphInputs(ctx)
	if err == nil {
		in, err = ReadInputs(ctx, d.store, p, b.ID, in)
	}
	if err != nil {
		d.fail(log, b, fmt.Sprintf("reading the inputs of build %d: %v", b.ID, err))
		return
	}
	if r.lost != nil {
		// The lost attempt's stages stop with its context; the store
		// does not see it, as it gave the build out again.
		select {
		case <-r.lost.done:
		case <-ctx.Done():
		}
	}
	log.Info("build started")
	end, err := d.exec.Execute(ctx, p, b, in)
	// An end recorded without error is this runner's, even when a renewal
	// that ticked after the record found the build ended and cancelled ctx
	// with a lost lease.
	recorded := err == nil && end.Status.Done()
	if errors.Is(err, pipeline.ErrLeaseLost) || (!recorded && errors.Is(context.Cause(ctx), pipeline.ErrLeaseLost)) {
		log.Warn("another runner took the build: left to it", "err", err)
		return
	}
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
	if err := d.store.UpdateBuild(context.Background(), b); errors.Is(err, pipeline.ErrLeaseLost) {
		log.Warn("another runner took the build: left to it", "err", err)
		return
	} else if err != nil {
		log.Error("recording the failed build", "reason", reason, "err", err)
	}
	log.Warn("build failed before it ran", "reason", reason)
	d.finished(b)
}

// settle ends b's hold on its repository in the store once its end and
// its cascade are done (pipeline.HoldStore): another build of the
// repository, or a child, may start. When it fails, the hold ends with
// the lease.
func (d *Dispatcher) settle(log *slog.Logger, b pipeline.Build) {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Lease/3)
	defer cancel()
	if err := d.store.Settle(ctx, b.ID, b.Attempt); err != nil {
		log.Warn("settling the build: its repository stays held until its lease runs out", "err", err)
	}
}

func (d *Dispatcher) finished(b pipeline.Build) {
	if d.opts.Observer != nil {
		d.opts.Observer.BuildFinished(b)
	}
}
