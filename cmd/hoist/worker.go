package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/hoistci/hoist/internal/metrics"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/sched"
)

// parseWorkerFlags reads hoist worker's flags into serveFlags, the same
// build settings serve has, without the web and trigger ones.
func parseWorkerFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{logLimit: runner.DefaultLogLimit}
	fs := newFlags("worker", stderr)
	fs.StringVar(&f.data, "data", "hoist-worker", "folder for this worker's workspaces (its own: not a server's or another worker's)")
	fs.StringVar(&f.db, "db", "", dbUsage)
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "builds to run at once up to the end of their build stage")
	fs.IntVar(&f.testWorkers, "test-workers", 0, testWorkersHelp)
	fs.Var(&f.logLimit, "log-limit", "how much of each stage's log to keep (e.g. 50MB, 512KB)")
	fs.BoolVar(&f.keep, "keep-workspace", false, "keep checkouts after each build, for debugging")
	fs.BoolVar(&f.verbose, "v", false, "log debug messages")
	fs.DurationVar(&f.prebuild, "prebuild-timeout", 30*time.Minute, "how long a prebuild-script may run")
	fs.DurationVar(&f.checkout, "checkout-timeout", runner.DefaultCheckoutTimeout, "how long a git checkout may take")
	fs.DurationVar(&f.lease, "lease", sched.DefaultLease, "how long a running build stays this worker's without a renewal (renewed every third of it); a build whose worker stops renewing (killed, machine gone) is taken again by another worker or server sharing the database")
	fs.BoolVar(&f.trustIndex, "trust-index", false, "trust every project of the index: their scripts run on this machine as Hoist's user (root-equivalent), not sandboxed")
	f.stages.register(fs)
	f.limits.register(fs, true)
	f.reg.register(fs)
	f.notify.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: hoist worker --db URL --registry HOST:PORT [--workers N] [--data DIR] [--lease D]")
		return nil, exitError(2)
	}
	if f.db == "" {
		fmt.Fprintln(stderr, "hoist worker: --db URL is needed: the servers' database (postgres://USER@HOST/DB, or sqlite:PATH of a server on this machine)")
		return nil, exitError(2)
	}
	if f.reg.external == "" {
		fmt.Fprintln(stderr, "hoist worker: --registry HOST:PORT is needed: the registry the servers deliver to (hoist serve's embedded one listens on 127.0.0.1:5000 unless --registry-addr moved it; serve it on an address the worker reaches)")
		return nil, exitError(2)
	}
	if err := f.notify.check(stderr); err != nil {
		return nil, err
	}
	if err := f.limits.check(); err != nil {
		return nil, err
	}
	if f.workers < 1 {
		fmt.Fprintf(stderr, "--workers %d: a worker runs at least 1 build at once\n", f.workers)
		return nil, exitError(2)
	}
	if f.lease < time.Second {
		fmt.Fprintf(stderr, "--lease %v: want at least 1s, e.g. 30s (each running build's lease is renewed every third of it)\n", f.lease)
		return nil, exitError(2)
	}
	return f, nil
}

// cmdWorker runs builds queued in a shared database, on this machine's
// engine, until ctx ends: hoist serve without the web UI, the API and the
// triggers, so that builds can run on machines other than the servers'.
func cmdWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseWorkerFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	env, err := openEnv(ctx, f.data, f.db, f.reg, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	if !f.keep {
		_ = os.RemoveAll(filepath.Join(f.data, "work"))
	}
	reapLeftovers(ctx, env, log)
	if _, err := env.engine.EnsureToolbox(ctx); err != nil {
		return err
	}
	m := metrics.New(env.store, log)
	notices := f.notify.service(env.store, "", log)
	defer flushNotifications(notices, log)
	r := newServeRunner(f, env, m, log)
	d := sched.NewDispatcher(env.store, r, sched.DispatcherOptions{Workers: f.workers, Logger: log, Observer: buildObservers{m, notices}, Lease: f.lease})
	runCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(errStopping)
	dispatched := make(chan error, 1)
	go func() { dispatched <- d.Run(runCtx) }()
	fmt.Fprintf(stdout, "hoist worker: running the queued builds of %s (%d at once, delivering to %s); Ctrl-C stops it\n",
		redactDB(f.db), f.workers, env.registryHost)
	select {
	case <-ctx.Done():
	case err = <-dispatched:
		dispatched <- err
	}
	log.Info("stopping: cancelling running builds")
	stopRuns(errStopping)
	return <-dispatched
}
