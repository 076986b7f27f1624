package sched

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// DefaultLeaderTTL is how long a leader lease lasts unrenewed: a server
// that dies hands its jobs to another within about this long.
const DefaultLeaderTTL = 30 * time.Second

// LeadOptions configure Lead.
type LeadOptions struct {
	// TTL is how long the lease lasts unrenewed; default DefaultLeaderTTL.
	// The holder renews it every TTL/3, and the others ask for it as often,
	// so another takes it over within 4/3 TTL of the holder's death.
	TTL    time.Duration
	Logger *slog.Logger // nil: discard
}

var (
	errLeadLost    = errors.New("another server took the lease")
	errLeadExpired = errors.New("the lease could not be renewed before it expired")
)

// Lead runs job only while holder holds the lease name in l, until ctx
// ends: of the servers sharing the store, the one holding the lease runs
// the job, and when it dies (stops renewing), another takes the lease and
// starts the job. job's context ends when the lease is lost, at the
// latest when it would expire unrenewed; job must return then, and is
// started again if the lease comes back. When job returns by itself Lead
// gives the lease up and returns. holder must be unique per process.
func Lead(ctx context.Context, l pipeline.Leader, name, holder string, opts LeadOptions, job func(context.Context)) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultLeaderTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ld := &leading{l: l, name: name, holder: holder, opts: opts,
		log: opts.Logger.With("job", name, "holder", holder)}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if until, ok, _ := ld.try(ctx); ok && ld.run(ctx, until, job) {
			return
		}
		t.Reset(ld.every())
	}
}

// leading is one Lead loop.
type leading struct {
	l            pipeline.Leader
	name, holder string
	opts         LeadOptions
	log          *slog.Logger
}

// every is how often the lease is renewed, or asked for.
func (ld *leading) every() time.Duration { return ld.opts.TTL / 3 }

// try asks for (or renews) the lease, and returns whether it holds it and
// until when it surely does: the store counts the TTL from a moment after
// the call began. An error is logged.
func (ld *leading) try(ctx context.Context) (until time.Time, held bool, err error) {
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, ld.every())
	defer cancel()
	held, err = ld.l.TryLead(tctx, ld.name, ld.holder, ld.opts.TTL)
	if err != nil && ctx.Err() == nil {
		ld.log.Warn("asking for the leader lease", "err", err)
	}
	return start.Add(ld.opts.TTL), held, err
}

// run runs job while the lease held until until is renewed. It reports
// whether Lead is done: ctx ended or job returned by itself.
func (ld *leading) run(ctx context.Context, until time.Time, job func(context.Context)) bool {
	ld.log.Info("leading: this server runs the job")
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		job(jctx)
	}()
	expire := time.NewTimer(time.Until(until))
	defer expire.Stop()
	renew := time.NewTicker(ld.every())
	defer renew.Stop()
	lose := func(why error) bool {
		ld.log.Warn("no longer leading: the job stops here", "why", why)
		cancel(why)
		<-ended
		return false
	}
	for {
		select {
		case <-ended:
			ld.resign(ctx)
			return true
		case <-ctx.Done():
			<-ended
			ld.resign(ctx)
			return true
		case <-expire.C:
			return lose(errLeadExpired)
		case <-renew.C:
		}
		next, held, err := ld.try(ctx)
		switch {
		case err != nil: // try again, until the lease expires
		case held:
			expire.Reset(time.Until(next))
		default:
			return lose(errLeadLost)
		}
	}
}

// resign gives the lease up so that another server takes it at once.
func (ld *leading) resign(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := ld.l.Resign(rctx, ld.name, ld.holder); err != nil {
		ld.log.Warn("giving up the leader lease", "err", err)
	}
}
