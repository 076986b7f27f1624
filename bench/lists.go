package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// (h) lists under a long history: 234 projects with -history builds
// (10,000) written straight into a store, `bin/hoist serve` started on it,
// and an open-loop load of -rate requests a second (1,000) for -load-time
// (10 s) against GET /api/v1/projects and against one project's page. The
// same with a small history (one build a project) in the same run: the
// ratio of the p99s says whether the lists depend on the history's length.
// All of it on each of -stores: SQLite (the data folder's hoist.db) and
// PostgreSQL (a throwaway cluster of this process, as the tests start it,
// with serve --db).

// listsTarget is the p99 the issue asks for at 1,000 req/s.
const listsTarget = 20 * time.Millisecond

// listsConfig is what (h) measures.
type listsConfig struct {
	projects, history, small int
	rate                     int
	loadTime                 time.Duration
	stores                   []string // sqlite, postgres
}

// loadResult is one open-loop load against one URL.
type loadResult struct {
	sent, ok  int
	elapsed   time.Duration
	latencies []time.Duration // of every answered request, from when it was due
	firstErr  string
}

func (r loadResult) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r loadResult) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func benchLists(ctx context.Context, e *env, rep *report, c listsConfig) error {
	if slices.Contains(c.stores, "postgres") {
		defer testenv.StopPostgres()
	}
	for _, store := range c.stores {
		if err := benchListsOn(ctx, e, rep, c, store); err != nil {
			return fmt.Errorf("%s: %w", store, err)
		}
	}
	rep.how = append(rep.how, fmt.Sprintf("(h) on %s: %d projects (33 namespaces, some depending on others) and their builds, each with 7 stages, a 1 KiB log a stage and a delivered image when it succeeded, written into a store with the store's own methods (PostgreSQL: a throwaway cluster of this process, fsync off, as the tests start it); bin/hoist serve on it; then an open-loop load from this process (Go's net/http client, not hey: one request due every %s, sent when due by one of %d keep-alive connections, gzip accepted as a browser does), %s against GET /api/v1/projects and %s against the page of a project with children (it lists a page of 25 builds with the long history, its one build with the small: that difference stays); latency counts from when the request was due, so a server that falls behind shows it as latency", strings.Join(c.stores, " and "), c.projects, time.Second/time.Duration(c.rate), loadConns, c.loadTime, c.loadTime))
	return nil
}

// benchListsOn measures (h) on one store.
func benchListsOn(ctx context.Context, e *env, rep *report, c listsConfig, store string) error {
	results := map[int]map[string]loadResult{}
	for _, n := range []int{c.small, c.history} {
		res, err := listsRound(ctx, e, c, store, n)
		if err != nil {
			return err
		}
		results[n] = res
	}
	for _, target := range []string{"api", "page"} {
		small, big := results[c.small][target], results[c.history][target]
		for _, n := range []int{c.small, c.history} {
			r := results[n][target]
			verdict := "MISSES"
			if r.pct(0.99) <= listsTarget && r.rate() >= 0.95*float64(c.rate) {
				verdict = "meets"
			}
			rep.info = append(rep.info, fmt.Sprintf("(h) %s, %s, %d projects, %d builds: %.0f of %d req/s answered 200, p50 %s, p99 %s (%s the target p99 <= %s at %d req/s)%s",
				store, listsName(target), c.projects, n, r.rate(), c.rate, fmtDur(r.pct(0.5)), fmtDur(r.pct(0.99)), verdict, fmtDur(listsTarget), c.rate, errNote(r)))
		}
		if big.rate() > 0 {
			rep.info = append(rep.info, fmt.Sprintf("(h) %s, %s: req/s answered with %d builds / with %d builds = %s (1 when the history's length does not matter; the p99s say it only while the server keeps up)",
				store, listsName(target), c.small, c.history, fmtRatio(small.rate()/big.rate())))
		}
		rep.rows = append(rep.rows, row{name: fmt.Sprintf("(h) %s %s p99, %d builds / %d builds", store, listsName(target), c.history, c.small),
			hoist: []time.Duration{big.pct(0.99)}, baseline: []time.Duration{small.pct(0.99)},
			ratio: ratio(fmt.Sprintf("p99(%d)/p99(%d)", c.history, c.small), []time.Duration{big.pct(0.99)}, []time.Duration{small.pct(0.99)})})
	}
	return nil
}

func listsName(target string) string {
	if target == "api" {
		return "GET /api/v1/projects"
	}
	return "project page"
}

func errNote(r loadResult) string {
	if r.firstErr == "" {
		return ""
	}
	return fmt.Sprintf("; %d of %d failed, first: %s", r.sent-r.ok, r.sent, r.firstErr)
}

// listsRound seeds a store with builds builds, serves it and loads both
// targets.
func listsRound(ctx context.Context, e *env, c listsConfig, store string, builds int) (map[string]loadResult, error) {
	dir := filepath.Join(e.tmp, fmt.Sprintf("lists-%s-%d", store, builds))
	progress("(h) %s: writing %d projects and %d builds", store, c.projects, builds)
	start := time.Now()
	var (
		page string
		db   string // serve's --db, "" for the data folder's SQLite
		err  error
	)
	if store == "postgres" {
		db, page, err = seedPostgres(ctx, c.projects, builds)
		if err == nil {
			err = os.MkdirAll(dir, 0o700)
		}
	} else {
		page, err = seedLists(ctx, dir, c.projects, builds)
	}
	if err != nil {
		return nil, fmt.Errorf("seeding the store: %w", err)
	}
	progress("(h) written in %s", time.Since(start).Round(time.Second))
	addr, stop, err := e.startServe(ctx, dir, db)
	if err != nil {
		return nil, err
	}
	defer stop()
	out := map[string]loadResult{}
	for target, path := range map[string]string{"api": "/api/v1/projects", "page": page} {
		url := "http://" + addr + path
		if _, err := openLoad(ctx, url, 50, time.Second); err != nil { // warm up
			return nil, err
		}
		progress("(h) %s, %d builds: %d req/s for %s against %s", store, builds, c.rate, c.loadTime, path)
		r, err := openLoad(ctx, url, c.rate, c.loadTime)
		if err != nil {
			return nil, err
		}
		out[target] = r
	}
	return out, nil
}

// listsStore is what seeding a store needs.
type listsStore interface {
	pipeline.Store
	Close() error
}

// seedLists writes projects and builds (spread round-robin) into a new
// SQLite store in dir and returns the path of a project page to load. The
// store is written on tmpfs (fast commits) and copied into dir.
func seedLists(ctx context.Context, dir string, projects, builds int) (string, error) {
	shm, err := os.MkdirTemp("/dev/shm", "hoist-bench-")
	if err != nil {
		shm, err = os.MkdirTemp("", "hoist-bench-")
		if err != nil {
			return "", err
		}
	}
	defer os.RemoveAll(shm)
	st, err := sqlite.Open(ctx, filepath.Join(shm, "hoist.db"))
	if err != nil {
		return "", err
	}
	page, err := seedStore(ctx, st, projects, builds)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := copyFile(filepath.Join(shm, "hoist.db"), filepath.Join(dir, "hoist.db")); err != nil {
		return "", err
	}
	return page, nil
}

// seedPostgres writes projects and builds into a new database of this
// process's throwaway PostgreSQL cluster and returns its URL and the path
// of a project page to load.
func seedPostgres(ctx context.Context, projects, builds int) (string, string, error) {
	url, _, err := testenv.PostgresDatabase()
	if err != nil {
		return "", "", err
	}
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return "", "", err
	}
	page, err := seedStore(ctx, st, projects, builds)
	return url, page, err
}

// seedStore writes projects and builds (spread round-robin) into st,
// closes it, and returns the path of a project page to load.
func seedStore(ctx context.Context, st listsStore, projects, builds int) (string, error) {
	keys := make([]string, projects)
	for i := range projects {
		p := pipeline.Project{ID: i % 7, AppID: fmt.Sprintf("ns%02d", i%33), JobID: fmt.Sprintf("app%03d", i), Tag: "latest",
			GitURL: fmt.Sprintf("https://git.example.com/ns%02d/app%03d.git", i%33, i), GitBranch: "master", TargetFile: "Dockerfile",
			BuildContext: "./", NotifyEmail: "team@example.com", Origin: pipeline.Origin{File: fmt.Sprintf("index.d/ns%02d.yaml", i%33), Line: 3 + 12*(i/33)}}
		if i >= 33 && i%3 == 0 { // a child of the first project of its namespace
			p.DependsOn = []pipeline.ImageRef{{Namespace: fmt.Sprintf("ns%02d", i%33), Name: fmt.Sprintf("app%03d", i%33), Tag: "latest"}}
		}
		if err := st.PutProject(ctx, p); err != nil {
			st.Close()
			return "", err
		}
		keys[i] = p.Key()
	}
	t0 := time.Now().Add(-time.Duration(builds) * time.Minute)
	log := []byte(strings.Repeat("Step 3/7 : RUN make install DESTDIR=/out && strip /out/bin/*\n", 16))
	for i := range builds {
		if err := seedBuild(ctx, st, keys[i%projects], t0.Add(time.Duration(i)*time.Minute), i, log); err != nil {
			st.Close()
			return "", err
		}
	}
	if err := st.Close(); err != nil {
		return "", err
	}
	return "/p/" + keys[0], nil // a parent with children
}

// seedBuild writes one finished build of key: a failure every 7th, else a
// success with its delivered image.
func seedBuild(ctx context.Context, st listsStore, key string, at time.Time, i int, log []byte) error {
	b := pipeline.Build{Project: key, Status: pipeline.StatusSucceeded, Cause: "push", Commit: fmt.Sprintf("%040x", i),
		Created: at, Started: at.Add(time.Second), Finished: at.Add(40 * time.Second)}
	failed := i%7 == 3
	if failed {
		b.Status, b.FailedStage, b.Reason = pipeline.StatusFailed, pipeline.StageTest, "test-script exited 1:\nFAIL: the page is not served"
	} else {
		b.Image, b.Digest = "127.0.0.1:5000/"+key, fmt.Sprintf("sha256:%064x", i)
	}
	if err := st.CreateBuild(ctx, &b); err != nil {
		return err
	}
	for j, name := range pipeline.Stages {
		s := pipeline.Stage{BuildID: b.ID, Name: name, Status: pipeline.StatusSucceeded, Started: at.Add(time.Duration(j) * 5 * time.Second), Finished: at.Add(time.Duration(j+1) * 5 * time.Second)}
		if failed && name == pipeline.StageTest {
			s.Status, s.Error = pipeline.StatusFailed, "test-script exited 1"
		} else if failed && slices.Index(pipeline.Stages, name) > slices.Index(pipeline.Stages, pipeline.StageTest) {
			s.Status = pipeline.StatusSkipped
		}
		if err := st.PutStage(ctx, s); err != nil {
			return err
		}
		if err := st.AppendLog(ctx, b.ID, name, log); err != nil {
			return err
		}
	}
	if failed {
		return nil
	}
	return st.RecordImage(ctx, pipeline.DeliveredImage{Image: b.Image, Project: key, Digest: b.Digest, Commit: b.Commit, BuildID: b.ID, Delivered: b.Finished})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// startServe starts bin/hoist serve on the data folder dir (and the
// database db, "" for the folder's SQLite), on free loopback ports, with
// no triggers, and waits until it answers.
func (e *env) startServe(ctx context.Context, dir, db string) (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	regAddr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	args := []string{"serve", "--data", dir, "--addr", addr, "--registry-addr", regAddr, "--workers", "1", "--poll-interval", "0", "--rescan", "off"}
	if db != "" {
		args = append(args, "--db", db)
	}
	cmd := exec.Command(filepath.Join(e.root, "bin", "hoist"), args...)
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
	}
	progress("(h) bin/hoist serve (pid %d) on %s", cmd.Process.Pid, addr)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, stop, nil
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			stop()
			return "", nil, fmt.Errorf("bin/hoist serve exited: %s", tail(string(b), 10))
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("bin/hoist serve did not answer /healthz within 2 minutes")
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// loadConns is how many requests the load keeps in flight at most, each
// on its own keep-alive connection: a request due while all are busy waits
// for one (its wait counts in its latency), so that a server that falls
// behind shows it as latency, not as thousands of sockets.
const loadConns = 128

// loadGrace is how long after the load's end a request may still start:
// the ones a server too slow for the rate leaves waiting longer are not
// sent, and count as failed, with their wait as their latency.
const loadGrace = 5 * time.Second

// openLoad sends GET url at rate a second for d, each when it is due
// whatever the earlier ones did (open loop, up to loadConns at once), and
// measures each from when it was due.
func openLoad(ctx context.Context, url string, rate int, d time.Duration) (loadResult, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: loadConns, MaxConnsPerHost: loadConns}}
	defer client.CloseIdleConnections()
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	due := make(chan time.Time, rate*int(d/time.Second+1))
	start := time.Now()
	for range loadConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range due {
				err := errNotSent
				if time.Since(start) < d+loadGrace {
					err = get(client, url)
				}
				lat := time.Since(at)
				mu.Lock()
				switch {
				case err == nil:
					res.ok++
				case res.firstErr == "" || res.firstErr == errNotSent.Error():
					res.firstErr = err.Error()
				}
				res.latencies = append(res.latencies, lat) // a failure's too: at least that long
				mu.Unlock()
			}
		}()
	}
	interval := time.Second / time.Duration(rate)
	var err error
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d {
			break
		}
		if wait := time.Until(at); wait > 0 {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(wait):
			}
		}
		if err != nil {
			break
		}
		res.sent++
		due <- at
	}
	close(due)
	wg.Wait()
	res.elapsed = time.Since(start) // until the last answer
	return res, err
}

// errNotSent is the failure of a request still waiting for a connection
// loadGrace after the load's end.
var errNotSent = errors.New("not sent: the server had not answered the earlier requests " + loadGrace.String() + " after the load's end")

func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
