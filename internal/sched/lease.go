package sched

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// DefaultLease is how long a claimed build stays held by its runner without
// a renewal, unless DispatcherOptions.Lease says otherwise.
const DefaultLease = 30 * time.Second

// errLeaseLost is the cause a build is cancelled with here when another
// runner took it: its lease expired before this process renewed it.
// cancelPoll is how often a running build's runner reads whether a cancel
// was asked for on another server (Cancel, RequestCancel).
const cancelPoll = 2 * time.Second

var errLeaseLost = fmt.Errorf("another runner took this build: %w", pipeline.ErrLeaseLost)

// leaseDefaults fills in the lease options left zero.
func leaseDefaults(opts *DispatcherOptions) {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Holder == "" {
		opts.Holder = newHolder()
		if opts.Instance != "" {
			opts.Holder = opts.Instance + "/" + opts.Holder
		}
	}
	if opts.Retry.Attempts <= 0 {
		opts.Retry.Attempts = 3
	}
	if opts.Retry.Backoff <= 0 {
		opts.Retry.Backoff = opts.Lease / 10
	}
	if opts.Retry.Max <= 0 {
		opts.Retry.Max = opts.Lease
	}
}

// newHolder names this dispatcher in the leases it takes: the host and a
// random part, so that two processes on one host differ, and a restarted
// one does not renew what its predecessor held.
func newHolder() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "hoist"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// lease is the lease a claim or renewal at now takes.
func (d *Dispatcher) lease(now time.Time) pipeline.Lease {
	return pipeline.Lease{Holder: d.opts.Holder, Until: now.Add(d.opts.Lease)}
}

// keepLease renews the lease on b every third of the lease until the
// returned stop is called, also while b winds down after a cancel. When
// another runner took b, it cancels b here with errLeaseLost and stops.
// A renewal that fails otherwise (the database unreachable) is retried at
// the next tick: if the lease expires meanwhile, the next one reports it.
func (d *Dispatcher) keepLease(log *slog.Logger, b pipeline.Build, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		// A cancel asked for on another server is read every
		// cancelPoll, the lease renewed every third of it.
		every := min(d.opts.Lease/3, cancelPoll)
		tick := time.NewTicker(every)
		defer tick.Stop()
		renewed := time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			ctx, cancelCall := context.WithTimeout(context.Background(), d.opts.Lease/3)
			reason, err := d.store.CancelRequested(ctx, b.ID)
			if err == nil && reason != "" {
				cancelCall()
				log.Info("cancel asked for on another server", "reason", reason)
				cancel(errors.New(reason))
				return
			}
			if time.Since(renewed) < d.opts.Lease/3-every/2 {
				cancelCall()
				continue
			}
			err = d.store.RenewLease(ctx, b.ID, b.Attempt, d.lease(time.Now()))
			cancelCall()
			if errors.Is(err, pipeline.ErrLeaseLost) {
				log.Warn("lost the build's lease: cancelling it here", "err", err)
				cancel(errLeaseLost)
				return
			}
			if err != nil {
				log.Warn("renewing the build's lease", "err", err)
				continue
			}
			renewed = time.Now()
		}
	})
	return func() { close(done); wg.Wait() }
}

// expireLeases runs ExpireLeases every third of the lease until ctx ends.
func (d *Dispatcher) expireLeases(ctx context.Context) {
	tick := time.NewTicker(d.opts.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := d.expire(ctx); err != nil && ctx.Err() == nil {
			d.opts.Logger.Error("expiring leases", "err", err)
		}
	}
}

// expire ends the attempts whose runners stopped renewing their leases (a
// server or worker killed, a machine gone): the builds are queued again,
// and a worker here is woken when their backoff ends, or, at the attempt
// limit, they fail and are reported like any failed build.
func (d *Dispatcher) expire(ctx context.Context) error {
	bs, err := d.store.ExpireLeases(ctx, time.Now(), d.opts.Retry)
	if err != nil {
		return err
	}
	for _, b := range bs {
		log := d.opts.Logger.With("build", b.ID, "project", b.Project, "number", b.Number)
		if b.Status == pipeline.StatusQueued {
			wait := d.opts.Retry.Delay(b.Attempt - 1)
			log.Warn("build lost its runner: queued again", "attempt", b.Attempt, "after", wait)
			time.AfterFunc(wait, func() { d.signal(); d.signalRetry() })
			continue
		}
		log.Warn("build lost its runner too many times", "status", b.Status, "reason", b.Reason)
		d.finished(b)
		d.cascade(b)
	}
	return nil
}
