package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/source"
)

// registryFlags choose where images go: an external registry, or the
// embedded one.
type registryFlags struct {
	external    string
	addr        string
	insecure    listFlag
	privateRead bool // the embedded registry's reads need Hoist's credentials (serve --public-read=false)
}

// register adds the registry flags to fs.
func (r *registryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.external, "registry", "", "deliver to this registry HOST:PORT instead of the embedded one")
	fs.StringVar(&r.addr, "registry-addr", "127.0.0.1:5000", "address of the embedded registry")
	fs.Var(&r.insecure, "insecure-registry", "allow plain HTTP to this registry host (loopback always is)")
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	var (
		indexes, only listFlag
		reg           registryFlags
		nf            notifyFlags
		sf            stageFlags
		lf            limitFlags
		data          = fs.String("data", "hoist-data", "folder for the database, the embedded registry and workspaces")
		db            = dbFlag(fs)
		verbose       = fs.Bool("v", false, "show build output (the default on a terminal)")
		workers       = fs.Int("workers", runtime.NumCPU(), "builds to run at once up to the end of their build stage")
		testWorkers   = fs.Int("test-workers", 0, testWorkersHelp)
		keep          = fs.Bool("keep-workspace", false, "keep checkouts after each build, for debugging")
		prebuildLimit = fs.Duration("prebuild-timeout", 30*time.Minute, "how long a prebuild-script may run")
		checkoutLimit = fs.Duration("checkout-timeout", runner.DefaultCheckoutTimeout, "how long a git checkout may take")
		force         = fs.Bool("force", false, "build even projects whose inputs were delivered before")
		sandbox       = fs.Bool("sandbox", false, "run the projects' scripts confined in containers, as hoist serve does for projects it does not trust (default: on this machine, as your user)")
	)
	fs.Var(&indexes, "index", "index to build: an index.d folder, an index.yml or a file (repeatable)")
	fs.Var(&only, "only", "build only NS/NAME or NS/NAME:TAG (repeatable)")
	opts := indexOptions(fs)
	reg.register(fs)
	nf.register(fs)
	sf.register(fs)
	lf.register(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(indexes) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: hoist run --index PATH [--only NS/NAME[:TAG]] [--registry HOST:PORT] [--data DIR] [--db URL] [--force] [-v]")
		return exitError(2)
	}
	if err := nf.check(stderr); err != nil {
		return err
	}
	res, err := loadIndex(indexes, *opts, stderr)
	if err != nil {
		return err
	}
	projects, err := selectProjects(res.Projects, only)
	if err != nil {
		return err
	}
	env, err := openEnv(ctx, *data, *db, reg, sf.exec, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	from, err := env.store.FromImages(ctx)
	if err != nil {
		return err
	}
	order, cycles := pipeline.Order(withFromParents(projects, from))
	cycleLines, left := describeCycles(pipeline.NewGraph(projects, from), projects, order, cycles)
	for _, l := range cycleLines {
		fmt.Fprintln(stderr, "hoist: "+l)
	}

	prog := newProgress(stdout, *verbose || isTerminal(stdout))
	deps := sf.deps(env)
	if !*force {
		// Every repository's branches are read once, ahead of the builds
		// and more at once than --workers: a build whose branch is still
		// at the commit its project delivered needs no checkout.
		hctx, stopHeads := context.WithCancel(ctx)
		defer stopHeads()
		deps.Heads = sched.ReadHeads(hctx, source.New(), order, headReads)
	}
	r := runner.New(deps, runner.Options{
		ArtifactDir:     artifactDir(*data),
		RegistryHost:    env.registryHost,
		WorkDir:         filepath.Join(*data, "work"),
		KeepWorkspace:   *keep,
		PrebuildTimeout: *prebuildLimit,
		CheckoutTimeout: *checkoutLimit,
		Observer:        prog,
		Instance:        env.instance,
		Trusted:         func(pipeline.Project) bool { return !*sandbox },
		Limits:          lf.def,
		TestWorkers:     testSlots(*testWorkers, *workers),
	})
	fmt.Fprintf(stdout, "building %d projects, delivering to %s\n", len(order), env.registryHost)
	notices := nf.service(env.store, defaultServeAddr, warnLogger(stderr))
	nr := notifyingRunner{r, notices}
	in := sched.StoreInputs{Store: env.store, Projects: res.Projects, Force: *force}
	results := sched.Batch(ctx, nr, in, order, *workers, "manual: hoist run")
	for _, u := range left {
		b, err := nr.Skip(ctx, u.project, "manual: hoist run", u.reason)
		results = append(results, sched.Result{Project: u.project, Build: b, Err: err})
	}
	flushNotifications(notices, warnLogger(stderr))
	prog.Summary(results, env)
	if res.HasErrors() {
		fmt.Fprintln(stderr, "the index has errors: the entries with errors were not built (see above)")
		return exitError(1)
	}
	if len(cycles) > 0 {
		fmt.Fprintf(stderr, "the image graph has a cycle: %d projects on it or built on it were not built (see above)\n", len(left))
		return exitError(1)
	}
	for _, r := range results {
		if !r.OK() {
			return exitError(1)
		}
	}
	return nil
}

// testWorkersHelp is the help of --test-workers, a flag of run and serve.
const testWorkersHelp = "builds testing, scanning and delivering at once, each after its build stage gave its --workers slot back (default 4 × --workers)"

// testSlots is --test-workers, 4 × --workers when it is not set.
func testSlots(testWorkers, workers int) int {
	if testWorkers > 0 {
		return testWorkers
	}
	return 4 * max(workers, 1)
}

// headReads is how many repositories hoist run reads the branches of at
// once: a git ls-remote is mostly waiting, on the server or the network.
const headReads = 8

// selectProjects keeps the projects named by --only, all without it.
func selectProjects(all []pipeline.Project, only []string) ([]pipeline.Project, error) {
	if len(only) == 0 {
		return all, nil
	}
	var out []pipeline.Project
	for _, o := range only {
		found := false
		withTag := strings.Contains(o, ":")
		ref, err := pipeline.ParseImageRef(o)
		if err != nil {
			return nil, fmt.Errorf("--only %s: %w", o, err)
		}
		for _, p := range all {
			img := p.Image()
			if img.Repository() == ref.Repository() && (!withTag || img.Tag == ref.Tag) {
				out = append(out, p)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--only %s: no entry of the index builds that image", o)
		}
	}
	return out, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
