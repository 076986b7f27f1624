package main

import (
	"context"
	"fmt"
	"io"

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
	f.registerBuild(fs, "")
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
	if err := f.checkBuild(stderr, 1); err != nil {
		return nil, err
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
	log := f.logger(stderr)
	env, err := openEnv(ctx, f.data, f.db, f.reg, f.stages.exec, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	f.startClean(ctx, env, log)
	if err := prepare(ctx, env.exec); err != nil {
		return err
	}
	m := metrics.New(env.store, log)
	notices := f.notify.service(env.store, "", log)
	defer flushNotifications(notices, log)
	r := newServeRunner(f, env, m, log)
	d := sched.NewDispatcher(env.store, r, sched.DispatcherOptions{Workers: f.workers, Logger: log, Observer: buildObservers{m, notices}, Lease: f.lease, Instance: env.instance})
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
