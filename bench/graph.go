package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hoistci/hoist/internal/store/sqlite"
)

// benchGraph is (g): (g1) a no-op sweep — n projects on local git repos
// built once, then `hoist run` again with nothing changed, which must skip
// every build as unchanged and call the engine zero times; (g2) `hoist
// plan` over a synthetic index of planN entries: wall time and peak memory.
func benchGraph(ctx context.Context, e *env, rep *report, reg string, n, planN int) error {
	if err := benchNoopSweep(ctx, e, rep, reg, n); err != nil {
		return fmt.Errorf("(g1): %w", err)
	}
	if err := benchPlan(ctx, e, rep, planN); err != nil {
		return fmt.Errorf("(g2): %w", err)
	}
	return nil
}

// gitCommit makes dir a git repository with one commit on main.
func (e *env) gitCommit(ctx context.Context, dir string) error {
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "bench"}} {
		full := append([]string{"-C", dir, "-c", "user.name=hoist bench", "-c", "user.email=bench@hoist.invalid", "-c", "commit.gpgsign=false"}, args...)
		if _, err := e.output(ctx, "git", full...); err != nil {
			return err
		}
	}
	return nil
}

// sweepIndex writes n projects, each in its own git repository: bench/base
// (the busybox example) and n-1 children FROM it, and returns the index.
func sweepIndex(ctx context.Context, e *env, dir string, n int) (string, error) {
	var idx strings.Builder
	idx.WriteString("Projects:\n")
	base, err := e.baseRepo(ctx, dir, "base", 1)
	if err != nil {
		return "", err
	}
	idx.WriteString(base)
	for i := 2; i <= n; i++ {
		repo := filepath.Join(dir, "repos", fmt.Sprintf("p%d", i))
		if err := os.MkdirAll(filepath.Join(repo, "app"), 0o755); err != nil {
			return "", err
		}
		df := fmt.Sprintf("FROM bench/base:latest\nLABEL bench.n=\"%d\"\n", i)
		if err := os.WriteFile(filepath.Join(repo, "app", "Dockerfile"), []byte(df), 0o644); err != nil {
			return "", err
		}
		if err := e.gitCommit(ctx, repo); err != nil {
			return "", err
		}
		fmt.Fprintf(&idx, `  - id: %d
    app-id: bench
    job-id: p%d
    git-url: %s
    git-branch: main
    git-path: app
    target-file: Dockerfile
    desired-tag: latest
    notify-email: bench@hoist.invalid
    build-context: ./
    depends-on: bench/base:latest
`, i, i, repo)
	}
	path := filepath.Join(dir, "index.d", "bench.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return filepath.Dir(path), os.WriteFile(path, []byte(idx.String()), 0o644)
}

// baseRepo makes a git repository of the busybox example under dir/repos
// and returns its index entry: bench/JOB, with the example's prebuild. The
// bench's apps are built FROM it.
func (e *env) baseRepo(ctx context.Context, dir, job string, id int) (string, error) {
	base := filepath.Join(dir, "repos", job)
	if err := os.CopyFS(filepath.Join(base, "examples", "busybox"), os.DirFS(filepath.Join(e.root, "examples", "busybox"))); err != nil {
		return "", err
	}
	if err := e.gitCommit(ctx, base); err != nil {
		return "", err
	}
	return fmt.Sprintf(`  - id: %d
    app-id: bench
    job-id: %s
    git-url: %s
    git-branch: main
    git-path: examples/busybox
    target-file: Dockerfile
    desired-tag: latest
    notify-email: bench@hoist.invalid
    build-context: ./
    prebuild-script: examples/busybox/prebuild.sh
    prebuild-context: examples/busybox
    depends-on: null
`, id, job, base), nil
}

// engineCounter is a proxy in front of the Docker socket that counts the
// requests that do engine work (everything but /_ping and /version, which
// a client sends to connect).
type engineCounter struct {
	sock  string
	calls atomic.Int64
	paths chan string
	srv   *http.Server
}

func startEngineCounter(dir string) (*engineCounter, error) {
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	}
	c := &engineCounter{sock: filepath.Join(dir, "engine.sock"), paths: make(chan string, 100)}
	ln, err := net.Listen("unix", c.sock)
	if err != nil {
		return nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", target)
		}},
	}
	c.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/_ping") && !strings.HasSuffix(r.URL.Path, "/version") {
			c.calls.Add(1)
			select {
			case c.paths <- r.Method + " " + r.URL.Path:
			default:
			}
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func benchNoopSweep(ctx context.Context, e *env, rep *report, reg string, n int) error {
	dir := filepath.Join(e.tmp, "g1")
	progress("(g1) writing %d git repositories and their index", n)
	idx, err := sweepIndex(ctx, e, dir, n)
	if err != nil {
		return err
	}
	e.alias("bench/base:latest")
	hoistBin := filepath.Join(e.root, "bin", "hoist")
	data := filepath.Join(dir, "data")
	progress("(g1) untimed: hoist run builds all %d once", n)
	first, err := e.timed(ctx, exec.CommandContext(ctx, hoistBin, "run", "--index", idx, "--data", data, "--registry", reg, "--workers", "4"))
	if err != nil {
		return err
	}
	counter, err := startEngineCounter(dir)
	if err != nil {
		return err
	}
	defer counter.srv.Close()
	cmd := exec.CommandContext(ctx, hoistBin, "run", "--index", idx, "--data", data, "--registry", reg, "--workers", "4")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+counter.sock)
	progress("(g1) timed: hoist run again, nothing changed, engine behind a counting proxy")
	again, err := e.timed(ctx, cmd)
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "hoist.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	projects := 0
	unchanged := 0
	images, err := st.LastBuilds(ctx)
	if err != nil {
		return err
	}
	for _, b := range images {
		projects++
		if b.Unchanged() && b.Number == 2 {
			unchanged++
		}
	}
	if calls := counter.calls.Load(); calls != 0 || unchanged != n {
		close(counter.paths)
		var seen []string
		for p := range counter.paths {
			seen = append(seen, p)
		}
		return fmt.Errorf("the no-op sweep made %d engine calls (%s) and skipped %d of %d projects as unchanged; want 0 calls and all skipped",
			calls, strings.Join(seen, ", "), unchanged, n)
	}
	rep.rows = append(rep.rows, row{name: fmt.Sprintf("(g1) no-op sweep, %d projects, nothing changed", n),
		hoist: []time.Duration{again}, ratio: fmt.Sprintf("sweep/first build = %s", fmtRatio(float64(again)/float64(first)))})
	rep.how = append(rep.how, fmt.Sprintf("(g1) %d projects, one local git repository each (bench/base = examples/busybox, the rest FROM it with depends-on), "+
		"built once by `hoist run --workers 4 --registry %s` (untimed, %s), then the same command timed with nothing changed: "+
		"%d of %d builds recorded \"unchanged\" and the engine, behind a counting proxy of its socket, got 0 requests besides /_ping and /version",
		n, reg, fmtDur(first), unchanged, projects))
	return nil
}

// planPerFile is how many entries (g2) writes to each index file.
const planPerFile = 500

// benchPlan times `hoist plan` over a synthetic index of n entries: a layered
// graph where entry i depends on up to two earlier ones. The entries are
// spread over files of planPerFile, one namespace each, as a real index is
// (one file per namespace); one file of 10,000 would be over the index's
// per-file limits.
func benchPlan(ctx context.Context, e *env, rep *report, n int) error {
	dir := filepath.Join(e.tmp, "g2", "index.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ns := func(i int) string { return fmt.Sprintf("bench%d", (i-1)/planPerFile) }
	files := map[string]*strings.Builder{}
	for i := 1; i <= n; i++ {
		b := files[ns(i)]
		if b == nil {
			b = &strings.Builder{}
			b.WriteString("Projects:\n")
			files[ns(i)] = b
		}
		deps := "null"
		if i > 10 {
			d := (i*7919)%(i-1) + 1
			deps = fmt.Sprintf("%s/p%d:latest", ns(d), d)
		}
		fmt.Fprintf(b, "  - id: %d\n    app-id: %s\n    job-id: p%d\n    git-url: https://git.example/bench/p%d.git\n    git-branch: main\n"+
			"    git-path: /\n    target-file: Dockerfile\n    desired-tag: latest\n    notify-email: bench@hoist.invalid\n"+
			"    build-context: ./\n    depends-on: %s\n", i, ns(i), i, i, deps)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	hoistBin := filepath.Join(e.root, "bin", "hoist")
	cmd := exec.CommandContext(ctx, hoistBin, "plan", "--index", dir, "--changed", ns(1)+"/p1", "--changed", ns(2)+"/p2")
	progress("(g2) hoist plan over %d entries", n)
	d, err := e.timed(ctx, cmd)
	if err != nil {
		return err
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	out, err := exec.CommandContext(ctx, hoistBin, "plan", "--index", dir, "--changed", ns(1)+"/p1", "--changed", ns(2)+"/p2").Output()
	if err != nil {
		return err
	}
	first, _, _ := strings.Cut(string(out), "\n")
	rep.rows = append(rep.rows, row{name: fmt.Sprintf("(g2) hoist plan, %d-entry index", n), hoist: []time.Duration{d},
		ratio: fmt.Sprintf("peak RSS %.1f MiB", float64(rss)/1024)})
	rep.how = append(rep.how, fmt.Sprintf("(g2) wall time and peak RSS (rusage of the child) of `hoist plan --index <%d entries in files of %d> --changed bench0/p1 --changed bench0/p2`, "+
		"which reads and validates the index, builds the graph and prints the plan (%q)", n, planPerFile, first))
	return nil
}
