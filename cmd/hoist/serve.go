package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/hoistci/hoist/internal/metrics"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/server"
	"github.com/hoistci/hoist/internal/source"
)

// The parts hoist serve wires together fit each other.
var (
	_ server.Queue        = (*sched.Dispatcher)(nil)
	_ sched.Executor      = (*runner.Runner)(nil)
	_ runner.Observer     = (*metrics.Metrics)(nil)
	_ sched.BuildObserver = (*metrics.Metrics)(nil)
)

// errStopping is why builds running when the server stops are cancelled.
var errStopping = errors.New("server stopping")

// serveFlags are hoist serve's settings.
type serveFlags struct {
	indexes       listFlag
	track         indexFlags
	reg           registryFlags
	notify        notifyFlags
	triggers      triggerFlags
	addr, data    string
	db            string
	workers       int
	testWorkers   int
	keep, verbose bool
	publicRead    bool
	allowLocal    bool
	secure        bool
	logLimit      sizeFlag
	prebuild      time.Duration
	checkout      time.Duration
	lease         time.Duration
	stages        stageFlags
	trustIndex    bool
	limits        limitFlags
	leaderTTL     time.Duration
}

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{logLimit: runner.DefaultLogLimit}
	fs := newFlags("serve", stderr)
	fs.Var(&f.indexes, "index", "index to track: an index.d folder, an index.yml or a file (repeatable), or a git repository (see --index-branch)")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to serve the web UI and the API on")
	fs.StringVar(&f.data, "data", "hoist-data", "folder for the database, the embedded registry and workspaces")
	fs.StringVar(&f.db, "db", "", dbUsage)
	f.registerBuild(fs, "(0: none here, hoist worker processes sharing --db run them)")
	fs.BoolVar(&f.publicRead, "public-read", true, "anyone may read projects, builds and logs, and pull from the embedded registry; writes always need a user")
	fs.BoolVar(&f.secure, "secure-cookies", false, "mark cookies Secure (serve behind HTTPS)")
	fs.BoolVar(&f.allowLocal, "allow-local-repos", false, "let projects registered over the API or UI build repositories on this machine (paths, file:// URLs)")
	f.track.register(fs)
	f.triggers.register(fs)
	f.registerLeaderTTL(fs)
	registerSecret(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	f.track.secret = webhookSecret(fs)
	if err := f.triggers.check(fs, f.track.secret, stderr); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: hoist serve [--index PATH] [--addr HOST:PORT] [--workers N] [--data DIR] [--db URL] [--registry HOST:PORT]")
		return nil, exitError(2)
	}
	if err := f.checkBuild(stderr, 0); err != nil {
		return nil, err
	}
	if err := f.checkLeaderTTL(stderr); err != nil {
		return nil, err
	}
	return f, nil
}

// registerBuild registers the flags of how builds run here, which serve
// and worker share; workersNote ends --workers' help.
func (f *serveFlags) registerBuild(fs *flag.FlagSet, workersNote string) {
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "builds to run at once up to the end of their build stage, and one more that lost its runner elsewhere (a worker killed, a machine gone) "+workersNote)
	fs.IntVar(&f.testWorkers, "test-workers", 0, testWorkersHelp)
	fs.Var(&f.logLimit, "log-limit", "how much of each stage's log to keep (e.g. 50MB, 512KB)")
	fs.BoolVar(&f.keep, "keep-workspace", false, "keep checkouts after each build, for debugging")
	fs.BoolVar(&f.verbose, "v", false, "log debug messages")
	fs.DurationVar(&f.prebuild, "prebuild-timeout", 30*time.Minute, "how long a prebuild-script may run")
	fs.DurationVar(&f.checkout, "checkout-timeout", runner.DefaultCheckoutTimeout, "how long a git checkout may take")
	fs.DurationVar(&f.lease, "lease", sched.DefaultLease, "how long a running build stays this process's without a renewal (renewed every third of it); a build whose runner stops renewing (killed, machine gone) is taken again by another server or worker sharing the database")
	fs.BoolVar(&f.trustIndex, "trust-index", false, "trust every project of the index: their scripts run on this machine as Hoist's user (root-equivalent), not sandboxed")
	f.stages.register(fs)
	f.limits.register(fs, true)
	f.reg.register(fs)
	f.notify.register(fs)
}

// checkBuild validates the flags registerBuild registered, after parsing;
// --workers may not be below minWorkers.
func (f *serveFlags) checkBuild(stderr io.Writer, minWorkers int) error {
	if err := f.notify.check(stderr); err != nil {
		return err
	}
	if err := f.limits.check(); err != nil {
		return err
	}
	if f.workers < minWorkers {
		if minWorkers == 0 {
			fmt.Fprintf(stderr, "--workers %d: want 0 (builds run on hoist worker) or more\n", f.workers)
		} else {
			fmt.Fprintf(stderr, "--workers %d: want %d or more\n", f.workers, minWorkers)
		}
		return exitError(2)
	}
	if f.lease < time.Second {
		fmt.Fprintf(stderr, "--lease %v: want at least 1s, e.g. 30s (each running build's lease is renewed every third of it)\n", f.lease)
		return exitError(2)
	}
	return nil
}

// logger is the log of serve and worker, at debug level with -v.
func (f *serveFlags) logger(stderr io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// startClean removes the checkouts and reaps what the last process of
// this data folder left (builds a crash interrupted), before serve or
// worker runs builds: every build from now on makes its own.
func (f *serveFlags) startClean(ctx context.Context, env *env, log *slog.Logger) {
	if !f.keep {
		_ = os.RemoveAll(filepath.Join(f.data, "work"))
	}
	reapLeftovers(ctx, env, log)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	log := f.logger(stderr)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("serving on %s: %w", f.addr, err)
	}
	defer ln.Close()
	f.reg.privateRead = !f.publicRead
	env, err := openEnv(ctx, f.data, f.db, f.reg, f.stages.exec, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	f.startClean(ctx, env, log)
	return serve(ctx, f, env, ln, log, stdout)
}

// serve runs the dispatcher and the HTTP server until ctx ends, then stops
// them: running builds are cancelled ("server stopping") and recorded.
func serve(ctx context.Context, f *serveFlags, env *env, ln net.Listener, log *slog.Logger, stdout io.Writer) error {
	if err := prepare(ctx, env.exec); err != nil {
		return err // untrusted scripts cannot run without it
	}
	m := metrics.New(env.store, log)
	notices := f.notify.service(env.store, ln.Addr().String(), log)
	defer flushNotifications(notices, log) // after the dispatcher has stopped
	r := newServeRunner(f, env, m, log)
	d := sched.NewDispatcher(env.store, r, sched.DispatcherOptions{Workers: f.workers, Logger: log, Observer: buildObservers{m, notices}, Lease: f.lease, Instance: env.instance})
	if err := d.Recover(ctx); err != nil {
		return fmt.Errorf("recovering the builds the last stop left running: %w", err)
	}
	trig, err := newTriggers(&f.triggers, env.store, d, log)
	if err != nil {
		return err
	}
	srv := server.New(server.Deps{Store: env.store, Queue: d, Metrics: m.Handler(), Ready: readiness(env), Logger: log, Pushes: trig.pushes, Rescanner: rescanner{r}, Branches: source.New()},
		server.Options{PublicRead: f.publicRead, RegistryHost: env.registryHost, SecureCookies: f.secure, Webhooks: f.triggers.secrets,
			AllowLocalRepos: f.allowLocal, TrustIndex: f.trustIndex})
	track, err := startTracking(ctx, f, env.store, d, log)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: withIndexHook(srv, track, f.track.secret), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	runCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(errStopping)
	dispatched := make(chan error, 1)
	if f.workers > 0 {
		go func() { dispatched <- d.Run(runCtx) }()
	} else {
		// --workers 0: builds run on hoist worker processes.
		go func() { <-runCtx.Done(); dispatched <- nil }()
	}
	lead := newLeader(env.store, env.instance, f, log)
	trig.run(runCtx, lead)
	if f.triggers.rescan != "off" {
		rescans, err := sched.NewRescans(env.store, r, f.triggers.rescan, log)
		if err != nil {
			return err
		}
		lead.run(runCtx, "rescan", rescans.Run)
	}
	if track != nil {
		go track.RunPokes(runCtx) // POST /hooks/index on this server
		lead.run(runCtx, "index", track.RunTicks)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	workers := fmt.Sprintf("%d workers", f.workers)
	if f.workers == 0 {
		workers = "no workers: hoist worker runs the builds"
	}
	fmt.Fprintf(stdout, "hoist is serving http://%s (%s, delivering to %s); Ctrl-C stops it\n", ln.Addr(), workers, env.registryHost)

	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case err = <-dispatched:
		dispatched <- nil
	}
	log.Info("stopping: cancelling running builds")
	stopRuns(errStopping)
	if derr := <-dispatched; derr != nil && err == nil {
		err = derr
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := hs.Shutdown(shutCtx); serr != nil {
		_ = hs.Close() // streams of logs that will not end by themselves
	}
	return err
}

// newServeRunner is the runner the dispatcher executes builds with.
func newServeRunner(f *serveFlags, env *env, m *metrics.Metrics, log *slog.Logger) *runner.Runner {
	return runner.New(f.stages.deps(env), runner.Options{
		ArtifactDir:     artifactDir(f.data),
		RegistryHost:    env.registryHost,
		WorkDir:         filepath.Join(f.data, "work"),
		KeepWorkspace:   f.keep,
		PrebuildTimeout: f.prebuild,
		CheckoutTimeout: f.checkout,
		LogLimit:        int64(f.logLimit),
		Observer:        m,
		Logger:          log,
		Instance:        env.instance,
		Trusted:         func(p pipeline.Project) bool { return p.Trusted || f.trustIndex && p.FromIndex() },
		Limits:          f.limits.def,
		MaxLimits:       f.limits.max,
		TestWorkers:     testSlots(f.testWorkers, f.workers),
	})
}

// rescanner is the server's "Scan now": a re-scan of the delivered image.
type rescanner struct{ r *runner.Runner }

func (s rescanner) Rescan(ctx context.Context, project, cause string) (pipeline.Scan, error) {
	return s.r.Rescan(ctx, project, cause, io.Discard)
}

// readiness is /readyz: the database answers and so does the registry.
func readiness(env *env) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := env.store.Active(ctx); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		return env.registryAnswers(ctx)
	}
}
