package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Cause is the cause of the builds a reconcile queues.
const Cause = "index changed"

// DefaultInterval is how often the index is read when no interval is given.
const DefaultInterval = time.Minute

// Store is what a Tracker keeps projects and reconciles in.
type Store interface {
	pipeline.ProjectStore
	pipeline.ReconcileStore
}

// Queue queues builds; sched.Dispatcher is one.
type Queue interface {
	// Trigger queues a build of the project with key, or joins the one
	// already queued.
	Trigger(ctx context.Context, key, cause string) (b pipeline.Build, joined bool, err error)
}

// Options configure a Tracker.
type Options struct {
	Interval time.Duration    // between reads of the index; default DefaultInterval
	Logger   *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
}

// Tracker keeps the projects in step with one index. It is safe for
// concurrent use; reconciles run one at a time.
type Tracker struct {
	reader pipeline.IndexReader
	store  Store
	queue  Queue
	opts   Options
	poke   chan struct{}

	mu     sync.Mutex // held during a reconcile
	last   *pipeline.Reconcile
	loaded bool // last was read from the store
}

// New returns a Tracker reading the index with reader.
func New(reader pipeline.IndexReader, store Store, queue Queue, opts Options) *Tracker {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Tracker{reader: reader, store: store, queue: queue, opts: opts, poke: make(chan struct{}, 1)}
}

// Run reconciles every Interval and whenever Poke is called, until ctx
// ends. Failures are logged, and the next tick tries again.
func (t *Tracker) Run(ctx context.Context) { t.loop(ctx, true, true) }

// RunTicks reconciles every Interval until ctx ends, leaving pokes to
// RunPokes: of several servers sharing a store, one (the leader) reads the
// index on the interval, and each reconciles when its webhook pokes it.
func (t *Tracker) RunTicks(ctx context.Context) { t.loop(ctx, true, false) }

// RunPokes reconciles whenever Poke is called, until ctx ends.
func (t *Tracker) RunPokes(ctx context.Context) { t.loop(ctx, false, true) }

// loop reconciles on the interval (ticks) and on pokes (pokes).
func (t *Tracker) loop(ctx context.Context, ticks, pokes bool) {
	var tc <-chan time.Time
	if ticks {
		tick := time.NewTicker(t.opts.Interval)
		defer tick.Stop()
		tc = tick.C
	}
	var pc <-chan struct{}
	if pokes {
		pc = t.poke
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tc:
		case <-pc:
		}
		if _, err := t.Reconcile(ctx); err != nil && ctx.Err() == nil {
			t.opts.Logger.Error("reconciling the index", "err", err)
		}
	}
}

// Poke asks Run for a reconcile now; it does not wait for it.
func (t *Tracker) Poke() {
	select {
	case t.poke <- struct{}{}:
	default: // one is already asked for
	}
}

// Reconcile reads the index once and applies it: new and changed entries
// are stored and a build of each is queued, removed ones are disabled. An
// index with errors changes nothing. The reconcile is recorded unless it
// changed nothing at a revision already recorded with the same errors.
func (t *Tracker) Reconcile(ctx context.Context) (pipeline.Reconcile, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.loadLast(ctx); err != nil {
		return pipeline.Reconcile{}, err
	}
	snap, err := t.reader.ReadIndex(ctx)
	if err != nil {
		return pipeline.Reconcile{}, fmt.Errorf("reading the index: %w", err)
	}
	rec := pipeline.Reconcile{Time: t.opts.Now().UTC(), Revision: snap.Revision, Errors: snap.Errors}
	var plan Plan
	if len(snap.Errors) == 0 {
		stored, err := t.store.Projects(ctx)
		if err != nil {
			return rec, fmt.Errorf("reconciling the index: %w", err)
		}
		plan = Diff(stored, snap.Projects)
		rec.Added, rec.Changed, rec.Removed = plan.Added, plan.Changed, plan.Removed()
	}
	applyErr := t.apply(ctx, plan)
	noDiff := len(rec.Added)+len(rec.Changed)+len(rec.Removed) == 0
	if noDiff && t.last != nil && rec.Revision == t.last.Revision && slices.Equal(rec.Errors, t.last.Errors) {
		return rec, applyErr // nothing new to record
	}
	if err := t.store.RecordReconcile(ctx, &rec); err != nil {
		return rec, errors.Join(applyErr, fmt.Errorf("reconciling the index: %w", err))
	}
	t.last = &rec
	t.logReconcile(rec)
	return rec, applyErr
}

// loadLast reads the newest recorded reconcile, once.
func (t *Tracker) loadLast(ctx context.Context) error {
	if t.loaded {
		return nil
	}
	rs, err := t.store.Reconciles(ctx, 1)
	if err != nil {
		return fmt.Errorf("reading the last reconcile: %w", err)
	}
	if len(rs) > 0 {
		t.last = &rs[0]
	}
	t.loaded = true
	return nil
}

// apply stores the plan's projects and queues their builds. It goes on
// after a failure, and returns every failure.
func (t *Tracker) apply(ctx context.Context, plan Plan) error {
	var errs []error
	for _, p := range append(slices.Clone(plan.Disable), plan.Moved...) {
		if err := t.store.PutProject(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("storing project %s: %w", p.Key(), err))
		}
	}
	for _, p := range plan.Put {
		if err := t.store.PutProject(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("storing project %s: %w", p.Key(), err))
			continue
		}
		if _, _, err := t.queue.Trigger(ctx, p.Key(), Cause); err != nil {
			errs = append(errs, fmt.Errorf("queueing a build of %s: %w", p.Key(), err))
		}
	}
	for _, key := range plan.Skipped {
		t.opts.Logger.Warn("index entry ignored: a project registered by API or UI has its image", "project", key)
	}
	return errors.Join(errs...)
}

// logReconcile logs a recorded reconcile.
func (t *Tracker) logReconcile(r pipeline.Reconcile) {
	log := t.opts.Logger.With("revision", r.Revision)
	if len(r.Errors) > 0 {
		log.Warn("the index has errors: the last good index stays in force", "errors", len(r.Errors))
		for _, e := range r.Errors {
			log.Warn("index error", "error", e)
		}
		return
	}
	log.Info("index reconciled", "added", r.Added, "changed", len(r.Changed), "removed", r.Removed)
	for _, c := range r.Changed {
		for _, f := range c.Fields {
			log.Info("index entry changed", "project", c.Key, "field", f.Field, "old", f.Old, "new", f.New)
		}
	}
}
