// Command bench measures Hoist against what a user would do by hand with the
// docker CLI, side by side in one run, and prints medians and their ratios.
//
//	go run ./bench [-rounds 3] [-example busybox|hello] [-big-mb 500] [-only a|b|c|d|g|h|k] [-sweep 234] [-plan-entries 10000] [-history 10000] [-rate 1000] [-stores sqlite,postgres] [-v]
//
// (a) end to end: `bin/hoist run` of one example app against bench/baseline.sh,
// which does the same steps with git and the docker CLI; both deliver to the
// same docker-registry. (a2), in the same rounds: the same hoist run with
// --sandbox (the prebuild in the toolbox container, as hoist serve runs an
// untrusted project's) against the trusted run: the sandbox's overhead.
//
// (d) the test stage of a server app with a 1 s test-script, changed
// source: `bin/hoist run --only` against bench/baseline.sh with TEST_SCRIPT
// (no predefined checks), and Hoist's overhead (total - build -
// test-script). (e) 20 such apps changed: `hoist run --workers 2` against
// `docker build` of the 20, 2 at a time.
//
// (k1) the (d) app with --executor kubernetes (pods in the k3s of
// scripts/k3s.sh, which make bench brings up) against --executor docker,
// in total and per stage; (k2) a toolbox pod's start against a
// container's; (k3) (e)'s 20 changed apps on either executor (see kube.go).
//
// (b) promotion: Hoist's registry-side tag (internal/registry Client.Tag) of
// a 500 MB and a 1 MB image, whose ratio should be about 1, against docker
// pull + tag + push to the same repository and to another registry.
//
// (c) scanning a delivered image: `bin/hoist scan` of a -big-mb image with
// dpkg, pip, npm and Go content (time, and peak memory against the image's
// size and a -small-mb one's) against bench/scan-baseline.sh, which does
// the same inventory by hand with docker pull + save and tar.
//
// (g) the image graph: a no-op sweep of 234 projects on local git repos
// with nothing changed (no engine call allowed), and hoist plan over a
// 10,000-entry synthetic index (time and peak memory).
//
// (h) lists under a long history: hoist serve on 234 projects and -history
// builds, an open-loop load of -rate req/s against GET /api/v1/projects and
// a project's page, p50/p99 against the target (p99 <= 20 ms at 1,000
// req/s), and the p99 ratio to a small history (see lists.go); on SQLite
// and on PostgreSQL (-stores).
//
// The machine is shared and noisy, so runs are interleaved and only ratios
// measured in one run mean anything. It needs a Docker engine, the docker
// CLI and Debian's /usr/bin/docker-registry (scripts/deps.sh test installs
// them). Everything it creates is removed at the end: the registries it
// started (by PID), and the images and containers named after them. The
// table is also written to bench/out/results.txt.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hoistci/hoist/internal/registry"
)

type config struct {
	rounds         int
	example        string
	bigMB, smallMB int
	tagsPerRound   int
	only           string
	verbose        bool
	sweep, planN   int // (g)
	lists          listsConfig
}

func main() {
	var c config
	flag.IntVar(&c.rounds, "rounds", 3, "timed rounds of each benchmark")
	flag.StringVar(&c.example, "example", "busybox", "example app for (a): busybox or hello")
	flag.IntVar(&c.bigMB, "big-mb", 500, "size of the big image in (b) and (c), MiB")
	flag.IntVar(&c.smallMB, "small-mb", 1, "size of the small image in (b) and (c), MiB")
	flag.IntVar(&c.tagsPerRound, "tags", 5, "registry-side tags timed per round and size in (b1)(b2)")
	flag.StringVar(&c.only, "only", "", "run only benchmark a, b, c, d (with e), g, h or k (k1-k3)")
	flag.IntVar(&c.sweep, "sweep", 234, "projects in the no-op sweep (g1)")
	flag.IntVar(&c.planN, "plan-entries", 10000, "entries of the synthetic index for hoist plan (g2)")
	flag.IntVar(&c.lists.history, "history", 10000, "builds stored for the lists' load (h)")
	flag.IntVar(&c.lists.rate, "rate", 1000, "requests a second of the lists' load (h)")
	flag.DurationVar(&c.lists.loadTime, "load-time", 10*time.Second, "how long each load of (h) lasts")
	stores := flag.String("stores", "sqlite,postgres", "the stores (h) loads, comma-separated: sqlite, postgres")
	flag.BoolVar(&c.verbose, "v", false, "show the output of every command")
	flag.Parse()
	if c.rounds < 1 || c.bigMB < 1 || c.smallMB < 1 || c.tagsPerRound < 1 || flag.NArg() > 0 ||
		!slices.Contains([]string{"", "a", "b", "c", "d", "g", "h", "k"}, c.only) || c.lists.history < 1 || c.lists.rate < 1 || c.sweep < 1 || c.planN < 1 || whyExample[c.example] == "" {
		flag.Usage()
		os.Exit(2)
	}
	c.lists.projects, c.lists.small = 234, 234
	for _, st := range strings.Split(*stores, ",") {
		if st != "sqlite" && st != "postgres" {
			fmt.Fprintf(os.Stderr, "bench: -stores %s: %q is no store; give sqlite, postgres or both\n", *stores, st)
			os.Exit(2)
		}
		c.lists.stores = append(c.lists.stores, st)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) (err error) {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	e := &env{root: root, verbose: c.verbose, client: registry.New(registry.Options{UserAgent: "hoist-bench"})}
	if err := preflight(ctx, e, c.example == "hello"); err != nil {
		return err
	}
	var kubeconfig string
	if c.only == "" || c.only == "k" { // say it now rather than after the other rows
		if kubeconfig, err = kubeCluster(ctx, e); err != nil {
			return err
		}
	}
	if e.tmp, err = os.MkdirTemp("", "hoist-bench-"); err != nil {
		return err
	}
	defer e.cleanup() // also after an error or an interrupt
	if c.only != "b" {
		if err := ensureHoist(ctx, e); err != nil {
			return err
		}
	}

	reg := &registryProc{}
	if c.only != "h" { // (h) needs none
		if reg, err = e.startRegistry(ctx, "main"); err != nil {
			return err
		}
		progress("docker-registry (pid %d) on %s for the whole benchmark", reg.cmd.Process.Pid, reg.addr)
	}
	started := time.Now()
	rep := &report{}
	defer func() {
		// Whatever was measured is shown, also when a later part failed.
		if len(rep.rows) == 0 {
			return
		}
		var buf bytes.Buffer
		rep.write(&buf, c.rounds)
		fmt.Fprintf(&buf, "\nengine: Docker %s; %d rounds; took %s; %s\n", dockerVersion(e), c.rounds, time.Since(started).Round(time.Second), time.Now().UTC().Format(time.RFC3339))
		if err != nil {
			fmt.Fprintf(&buf, "INCOMPLETE: %v\n", err)
		}
		fmt.Println()
		os.Stdout.Write(buf.Bytes())
		if werr := writeResults(root, buf.Bytes()); werr != nil {
			err = errors.Join(err, werr)
		}
	}()
	if c.only == "" || c.only == "a" {
		if err := benchEndToEnd(ctx, e, rep, reg.addr, c.example, c.rounds); err != nil {
			return fmt.Errorf("(a): %w", err)
		}
	}
	if c.only == "" || c.only == "d" {
		if err := benchTestStage(ctx, e, rep, reg.addr, c.rounds); err != nil {
			return fmt.Errorf("(d)(e): %w", err)
		}
	}
	if c.only == "" || c.only == "k" {
		if err := benchKube(ctx, e, rep, kubeconfig, c.rounds); err != nil {
			return fmt.Errorf("(k): %w", err)
		}
	}
	if c.only == "" || c.only == "g" {
		if err := benchGraph(ctx, e, rep, reg.addr, c.sweep, c.planN); err != nil {
			return fmt.Errorf("(g): %w", err)
		}
	}
	if c.only == "" || c.only == "h" {
		if err := benchLists(ctx, e, rep, c.lists); err != nil {
			return fmt.Errorf("(h): %w", err)
		}
	}
	if c.only == "" || c.only == "b" {
		if err := benchPromotion(ctx, e, rep, reg.addr, c.bigMB, c.smallMB, c.rounds, c.tagsPerRound); err != nil {
			return fmt.Errorf("(b): %w", err)
		}
	}
	if c.only == "" || c.only == "c" {
		if err := benchScan(ctx, e, rep, reg.addr, c.bigMB, c.smallMB, c.rounds); err != nil {
			return fmt.Errorf("(c): %w", err)
		}
	}
	return nil
}

// moduleRoot finds the folder of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/hoistci/hoist\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run this from the Hoist repository (no go.mod of github.com/hoistci/hoist above the working directory)")
		}
		dir = parent
	}
}

// ensureHoist builds bin/hoist when it is missing (`make bench` builds it).
func ensureHoist(ctx context.Context, e *env) error {
	bin := filepath.Join(e.root, "bin", "hoist")
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	progress("bin/hoist is missing: go build -o bin/hoist ./cmd/hoist")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hoist")
	cmd.Dir = e.root
	_, err := e.timed(ctx, cmd)
	return err
}

func dockerVersion(e *env) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := e.output(ctx, "docker", "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return "?"
	}
	return string(bytes.TrimSpace([]byte(v)))
}

func writeResults(root string, table []byte) error {
	dir := filepath.Join(root, "bench", "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "results.txt")
	if err := os.WriteFile(path, table, 0o644); err != nil {
		return err
	}
	_, _ = io.WriteString(os.Stderr, "wrote "+path+"\n")
	return nil
}
