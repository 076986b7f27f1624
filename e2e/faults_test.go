package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/testenv"
)

// The fault harness (make faults; a reduced run is TestFaults in make test).
// Test "hosts" are network namespaces (faultNS1…), each with a veth pair to
// this machine in 10.213.N.0/24, each running a hoist worker that reaches
// PostgreSQL (through a forwarder on the host's veth address) and the
// registry (through a fault proxy answering some requests 503/429 and adding
// latency) over its veth. The engine is this machine's dockerd through its
// unix socket (the filesystem is shared), so an image push goes from dockerd
// to the proxy on 127.0.0.1, not over the veth; inside a namespace
// 127.0.0.1:PROXYPORT is DNATed to the host's veth address, so one registry
// address (loopback, which dockerd treats as plain HTTP) serves both.
// The machine's Docker engine is never restarted (it is shared by everyone
// on the machine): the worker of the first namespace uses an engine of the
// harness's own (faults_engine_test.go), which it restarts once mid-build.
const (
	faultNSPrefix = "hoistflt"
	faultLease    = 10 * time.Second
)

// TestFaults runs N pipelines (6; 30 with HOIST_FAULTS=full) on workers in
// network namespaces while it kills workers and a server with SIGKILL at
// random points, restarts the first worker's engine once mid-build, and the
// registry answers some requests 5xx/429, and reports how many were
// delivered, lost or delivered twice, the retries, how long each killed
// worker's build took to resume elsewhere, how long a killed server took
// to answer again, and what became of the builds the engine restart hit.
func TestFaults(t *testing.T) {
	pipelines, timeout, workerKills, serverKills := 6, 4*time.Minute, 2, 1
	if os.Getenv("HOIST_FAULTS") == "full" {
		pipelines, timeout, workerKills, serverKills = 30, 20*time.Minute, 6, 2
	}
	if n, err := strconv.Atoi(os.Getenv("HOIST_FAULTS_PIPELINES")); err == nil && n > 0 {
		pipelines = n
	}
	requireNetns(t)
	testenv.DockerHost(t)
	lockFaults(t)
	eng := startFaultEngine(t)
	db := testenv.Postgres(t)
	reg := testenv.DockerRegistry(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	const hosts = 3
	cleanupNetns(t, hosts)
	t.Cleanup(func() { cleanupNetns(t, hosts) })
	var hostAddrs []string
	for i := 1; i <= hosts; i++ {
		hostAddrs = append(hostAddrs, fmt.Sprintf("10.213.%d.1", i))
	}
	for i := 1; i <= hosts; i++ {
		addrOnHost(t, i)
	}
	proxy := startFaultProxy(t, reg, hostAddrs)
	pgURL, _ := url.Parse(db)
	pgPort := listenSamePort(t, hostAddrs, func(ln net.Listener) { go forward(ln, pgURL.Host) })
	for i := 1; i <= hosts; i++ {
		addNetns(t, i, proxy.port)
	}

	// The projects: each its own copy of the examples, busybox built by its
	// prebuild script, a label of its own so that each image differs.
	var entries []string
	var projects []string
	for i := 1; i <= pipelines; i++ {
		repo := copyExamples(t)
		testenv.Commit(t, repo, map[string]string{"examples/busybox/Dockerfile": mustRead(t, "../examples/busybox/Dockerfile") +
			fmt.Sprintf("LABEL hoist.fault-pipeline=\"%d\"\n", i)}, "pipeline "+strconv.Itoa(i))
		job := fmt.Sprintf("p%02d", i)
		projects = append(projects, "faults/"+job+":latest")
		entries = append(entries, fmt.Sprintf(`  - id: %d
    app-id: faults
    job-id: %s
    git-url: %s
    git-branch: main
    git-path: examples/busybox
    target-file: Dockerfile
    desired-tag: latest
    notify-email: dev@example.com
    build-context: ./
    prebuild-script: examples/busybox/prebuild.sh
    prebuild-context: examples/busybox
    depends-on: null
`, i, job, repo))
	}
	idx := writeIndex(t, "faults", entries...)
	registryAddr := "127.0.0.1:" + strconv.Itoa(proxy.port)

	// Two servers that build nothing, on this machine; the workers, one per
	// namespace.
	serverArgs := func(n int) []string {
		return []string{"serve", "--index", idx, "--addr", freeAddr(t), "--data", filepath.Join(t.TempDir(), "server"+strconv.Itoa(n)),
			"--db", db, "--registry", registryAddr, "--workers", "0", "--lease", faultLease.String()}
	}
	servers := []*served{startServe(t, serverArgs(1)...), startServe(t, serverArgs(2)...)}
	workers := make([]*served, hosts)
	startWorker := func(i int) *served {
		dbURL := *pgURL
		dbURL.Host = fmt.Sprintf("10.213.%d.1:%d", i+1, pgPort)
		ns := faultNS(i + 1)
		if i == 0 { // the harness's own engine, which may be restarting
			for deadline := time.Now().Add(time.Minute); !engineAnswers(eng.host) && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
			}
		}
		cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c", `hostname "$0" && exec "$@"`, ns,
			hoistBin, "worker", "--db", dbURL.String(), "--registry", registryAddr,
			"--data", filepath.Join(t.TempDir(), "worker"), "--trust-index", "--workers", "2", "--lease", faultLease.String())
		if i == 0 {
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+eng.host)
		}
		w := &served{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = w.out, w.out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = cmd.Wait(); close(w.done) }()
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				<-w.done
			}
			t.Logf("worker on %s\n%s", ns, w.output())
		})
		return w
	}
	// The first worker, on the harness's engine, takes its builds before
	// the others start: else, with builds as fast as they are now, the
	// others may take all of a short run's builds while it starts, and
	// the engine restart would hit none.
	workers[0] = startWorker(0)
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(workers[0].output(), "build started") && !exited(workers[0]); {
		if time.Now().After(deadline) {
			t.Fatalf("the worker on the harness's engine started no build in 2 minutes:\n%s", workers[0].output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i < len(workers); i++ {
		workers[i] = startWorker(i)
	}

	// The faults: kill -9 a worker that holds a build at its first attempt,
	// note its builds, restart it after 2 leases (so that another worker
	// takes them); kill a server and restart it at once.
	start := time.Now()
	var (
		mu         sync.Mutex
		recoveries []recovery
		kills      []string
		pollers    sync.WaitGroup
	)
	var doneWorkers atomic.Int32
	// Until the builds the engine restart hit have ended, their worker is
	// not killed: they show how a build recovers from the restart alone.
	var engineSettled atomic.Bool
	stop := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		doneServers := 0
		for doneWorkers.Load() < int32(workerKills) || doneServers < serverKills {
			select {
			case <-stop:
				return
			case <-time.After(chaosWait(rng, doneWorkers.Load())):
			}
			// The first fault is a worker's: a short run (the reduced
			// form on an idle machine ends in some 20 s) may otherwise
			// end before any worker is seen holding a build.
			if doneServers < serverKills && doneWorkers.Load() > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(servers))
				_ = servers[i].cmd.Process.Kill()
				<-servers[i].done
				at, killed := since(start), time.Now()
				servers[i] = startServe(t, serverArgs(i+1)...)
				mu.Lock()
				kills = append(kills, fmt.Sprintf("%s server %d killed, restarted and answering /readyz again after %v", at, i+1, time.Since(killed).Round(100*time.Millisecond)))
				mu.Unlock()
				doneServers++
				continue
			}
			if doneWorkers.Load() >= int32(workerKills) {
				continue
			}
			i := rng.IntN(hosts)
			if i == 0 && !engineSettled.Load() {
				continue // the engine restart's builds recover on their own
			}
			mu.Lock()
			w := workers[i]
			mu.Unlock()
			if exited(w) {
				continue // killed, not restarted yet
			}
			held, err := heldBuilds(ctx, pool, faultNS(i+1))
			if err != nil || len(held) == 0 {
				continue
			}
			firsts := true
			for _, b := range held {
				firsts = firsts && b.attempt == 1
			}
			if !firsts {
				continue
			}
			_ = w.cmd.Process.Kill()
			<-w.done
			killed := time.Now()
			mu.Lock()
			kills = append(kills, fmt.Sprintf("%s worker on %s killed holding %d build(s)", since(start), faultNS(i+1), len(held)))
			mu.Unlock()
			doneWorkers.Add(1)
			for _, b := range held {
				pollers.Add(1)
				go func() {
					defer pollers.Done()
					r := recovery{build: b, killed: killed}
					for time.Since(killed) < 5*time.Minute {
						var attempt int
						var status, holder string
						err := pool.QueryRow(ctx, `SELECT attempt, status, lease_holder FROM builds WHERE id = $1`, b.id).Scan(&attempt, &status, &holder)
						if err == nil && attempt > b.attempt && r.requeued == 0 {
							r.requeued = time.Since(killed)
						}
						if err == nil && attempt > b.attempt && status != "queued" {
							r.resumed, r.holder = time.Since(killed), holder
							break
						}
						time.Sleep(200 * time.Millisecond)
					}
					mu.Lock()
					recoveries = append(recoveries, r)
					mu.Unlock()
				}()
			}
			go func() {
				time.Sleep(2 * faultLease)
				select {
				case <-stop:
				default:
					mu.Lock()
					workers[i] = startWorker(i)
					mu.Unlock()
				}
			}()
		}
	}()

	// The engine restart: once, while the first namespace's worker runs a
	// build or test stage on it.
	var engineFault string
	var engineHits []engineHit
	engineDone := make(chan struct{})
	go func() {
		defer close(engineDone)
		defer engineSettled.Store(true)
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			mu.Lock()
			w := workers[0]
			mu.Unlock()
			if exited(w) {
				continue
			}
			hits, err := engineBuilds(ctx, pool, faultNS(1))
			if err != nil || len(hits) == 0 {
				continue
			}
			at := since(start)
			down, err := eng.restart(2 * time.Second)
			var names []string
			for _, h := range hits {
				names = append(names, fmt.Sprintf("%d (%s)", h.id, h.stages))
			}
			mu.Lock()
			engineHits = hits
			engineFault = fmt.Sprintf("engine restarted at %s (SIGKILL to dockerd, answering again after %v) while build(s) %s ran on it",
				at, down.Round(100*time.Millisecond), strings.Join(names, ", "))
			if err != nil {
				engineFault += ": " + err.Error()
			}
			mu.Unlock()
			for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
				var running int
				ids := make([]int64, len(hits))
				for i, h := range hits {
					ids[i] = h.id
				}
				err := pool.QueryRow(ctx, `SELECT count(*) FROM builds WHERE id = ANY($1) AND status IN ('queued', 'running')`, ids).Scan(&running)
				if err == nil && running == 0 {
					break
				}
			}
			return
		}
	}()

	// Until every pipeline's build is done (or the time is up).
	deadline := time.Now().Add(timeout)
	for {
		done, err := doneBuilds(ctx, pool)
		if err == nil && done >= pipelines {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after %v, %d of %d pipelines finished", timeout, done, pipelines)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	elapsed := time.Since(start)
	close(stop)
	<-chaosDone
	<-engineDone
	polled := make(chan struct{})
	go func() { pollers.Wait(); close(polled) }()
	select { // the recovery pollers of a late kill
	case <-polled:
	case <-time.After(time.Minute):
	}

	rep := faultReport(t, ctx, pool, reg, projects)
	mu.Lock()
	defer mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "fault harness: %d pipelines on %d workers in network namespaces, lease %v, %v\n", pipelines, hosts, faultLease, elapsed.Round(time.Second))
	fmt.Fprintf(&b, "  delivered:         %d of %d\n", rep.delivered, pipelines)
	fmt.Fprintf(&b, "  lost:              %d %v\n", len(rep.lost), rep.lost)
	fmt.Fprintf(&b, "  delivered twice:   %d %v\n", len(rep.twice), rep.twice)
	fmt.Fprintf(&b, "  retries:           %d builds ran more than once (%d attempts in all)\n", rep.retried, rep.attempts)
	fmt.Fprintf(&b, "  registry faults:   %d of %d requests answered 503/429 (latency 0-50 ms on each)\n", proxy.faults.Load(), proxy.requests.Load())
	for _, k := range kills {
		fmt.Fprintf(&b, "  fault: %s\n", k)
	}
	if doneWorkers.Load() == 0 {
		fmt.Fprintf(&b, "  fault: no worker was killed: none held a build at its first attempt when the harness looked\n")
		t.Error("no worker was killed")
	}
	if engineFault == "" {
		fmt.Fprintf(&b, "  fault: the engine was not restarted: no build ran on the worker that uses it\n")
		t.Error("the harness's engine was never restarted mid-build")
	} else {
		fmt.Fprintf(&b, "  fault: %s\n", engineFault)
	}
	for _, h := range engineHits {
		outcome, rerun := engineOutcome(t, ctx, db, pool, h.id)
		how := "no stage of it ran again"
		if rerun {
			how = "its stage waited for the engine and ran again"
		}
		fmt.Fprintf(&b, "  engine restart: build %d (%s): %s\n", h.id, outcome, how)
	}
	for _, r := range recoveries {
		if r.resumed == 0 {
			fmt.Fprintf(&b, "  recovery: build %d (%s, attempt %d) did not resume within 5 min: limit 2x lease = %v\n", r.build.id, r.build.project, r.build.attempt, 2*faultLease)
			t.Errorf("build %d of a killed worker did not resume", r.build.id)
			continue
		}
		verdict := func(d time.Duration) string {
			if d > 2*faultLease {
				return "OVER"
			}
			return "within"
		}
		fmt.Fprintf(&b, "  recovery: build %d (%s) queued again as attempt %d %v after the kill (%s 2x lease, %v), running on %s after %v (%s)\n",
			r.build.id, r.build.project, r.build.attempt+1, r.requeued.Round(100*time.Millisecond), verdict(r.requeued), 2*faultLease,
			r.holder, r.resumed.Round(100*time.Millisecond), verdict(r.resumed))
	}
	fmt.Print(b.String())
	t.Log(b.String())
	if len(rep.lost) > 0 || len(rep.twice) > 0 {
		t.Errorf("%d pipeline(s) lost, %d delivered twice", len(rep.lost), len(rep.twice))
		st, err := postgres.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, p := range append(rep.lost, rep.twice...) {
			t.Logf("%s: %s", p, rep.why[p])
			bs, _ := st.Builds(ctx, p, 1)
			for _, b := range bs {
				for _, stage := range []pipeline.StageName{pipeline.StageBuild, pipeline.StageDeliver} {
					if rc, err := st.OpenLog(ctx, b.ID, stage, 0); err == nil {
						out, _ := io.ReadAll(rc)
						rc.Close()
						t.Logf("%s build %d, its %s log:\n%s", p, b.ID, stage, out)
					}
				}
			}
		}
	}
	for _, p := range append(servers, workers...) {
		if !exited(p) {
			p.stop(t)
		}
	}
}

// exited reports whether p's process has ended.
func exited(p *served) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// heldBuild is a running build and the attempt a worker holds.
type heldBuild struct {
	id      int64
	project string
	attempt int
}

// recovery is how long a killed worker's build took to run again.
type recovery struct {
	build    heldBuild
	killed   time.Time
	requeued time.Duration // until it was queued as its next attempt (its lease expired)
	resumed  time.Duration // until that attempt ran (0: it did not), on a free slot
	holder   string
}

func since(start time.Time) string { return time.Since(start).Round(100 * time.Millisecond).String() }

// heldBuilds lists the running builds whose lease the worker of namespace
// ns holds (the holder is the data folder's instance id, "/", and the host
// name, which unshare --uts set to ns).
func heldBuilds(ctx context.Context, pool *pgxpool.Pool, ns string) ([]heldBuild, error) {
	rows, err := pool.Query(ctx, `SELECT id, project, attempt FROM builds WHERE status = 'running' AND lease_holder LIKE $1`, "%"+ns+"-%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []heldBuild
	for rows.Next() {
		var b heldBuild
		if err := rows.Scan(&b.id, &b.project, &b.attempt); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// doneBuilds counts the projects whose newest build is done.
func doneBuilds(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM builds b WHERE number = (SELECT max(number) FROM builds WHERE project = b.project)
		AND status NOT IN ('queued', 'running')`).Scan(&n)
	return n, err
}

type faultResult struct {
	delivered         int
	lost, twice       []string
	why               map[string]string
	retried, attempts int
}

// faultReport reads, per project, its builds and delivery from the store
// and its tag from the registry itself (not through the proxy): delivered
// once is one build that succeeded, one delivery naming it, and the tag
// naming its digest; twice is more than one build that succeeded or a tag
// or delivery naming another digest; lost is anything else.
func faultReport(t *testing.T, ctx context.Context, pool *pgxpool.Pool, reg string, projects []string) faultResult {
	r := faultResult{why: map[string]string{}}
	for _, p := range projects {
		rows, err := pool.Query(ctx, `SELECT id, status, digest, attempt, encode(reason, 'escape') FROM builds WHERE project = $1 ORDER BY number`, p)
		if err != nil {
			t.Fatal(err)
		}
		var succeeded []string
		var ids []int64
		var last string
		for rows.Next() {
			var id int64
			var status, digest, reason string
			var attempt int
			if err := rows.Scan(&id, &status, &digest, &attempt, &reason); err != nil {
				t.Fatal(err)
			}
			r.attempts += attempt
			if attempt > 1 {
				r.retried++
			}
			if status == "succeeded" {
				succeeded = append(succeeded, digest)
				ids = append(ids, id)
			}
			last = status + ": " + reason
		}
		rows.Close()
		var imgDigest string
		var imgBuild int64
		_ = pool.QueryRow(ctx, `SELECT digest, build_id FROM images WHERE project = $1`, p).Scan(&imgDigest, &imgBuild)
		repo, _, _ := strings.Cut(p, ":")
		tag := registryDigest(reg, repo, "latest")
		switch {
		case len(succeeded) == 0:
			r.lost = append(r.lost, p)
			r.why[p] = last
		case len(succeeded) > 1 || imgDigest != succeeded[0] || imgBuild != ids[0] || tag != succeeded[0]:
			r.twice = append(r.twice, p)
			r.why[p] = fmt.Sprintf("builds succeeded %v, delivery %s (build %d), tag %s", succeeded, imgDigest, imgBuild, tag)
		default:
			r.delivered++
		}
	}
	return r
}

// registryDigest is the digest repo:tag names in the registry at reg, "" if none.
func registryDigest(reg, repo, tag string) string {
	req, _ := http.NewRequest(http.MethodHead, "http://"+reg+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest")
}

// faultProxy is a reverse proxy to a registry that answers one request in
// 20 with 503 or 429 itself, each method and path at most once (so that a client
// that retries gets through), and delays every request by up to 50 ms.
type faultProxy struct {
	port             int
	requests, faults atomic.Int64
}

func startFaultProxy(t *testing.T, reg string, hostAddrs []string) *faultProxy {
	t.Helper()
	target, _ := url.Parse("http://" + reg)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &faultProxy{}
	var mu sync.Mutex
	faulted := map[string]bool{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
		key := r.Method + " " + r.URL.Path
		mu.Lock()
		fault := r.URL.Path != "/v2/" && !faulted[key] && rand.IntN(20) == 0
		if fault {
			faulted[key] = true
		}
		mu.Unlock()
		if fault {
			p.faults.Add(1)
			code := http.StatusServiceUnavailable
			if rand.IntN(2) == 0 {
				code = http.StatusTooManyRequests
				w.Header().Set("Retry-After", "1")
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"fault injected by the harness (%d)"}]}`, code)
			return
		}
		rp.ServeHTTP(w, r)
	})
	p.port = listenSamePort(t, append([]string{"127.0.0.1"}, hostAddrs...), func(ln net.Listener) {
		srv := &http.Server{Handler: h}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	})
	return p
}

// listenSamePort listens on one free port on every address of addrs and
// hands each listener to serve; it returns the port.
func listenSamePort(t *testing.T, addrs []string, serve func(net.Listener)) int {
	t.Helper()
	for range 20 {
		first, err := net.Listen("tcp", addrs[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, a := range addrs[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) < len(addrs) {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		for _, ln := range lns {
			t.Cleanup(func() { ln.Close() })
			serve(ln)
		}
		return port
	}
	t.Fatalf("no port free on all of %v", addrs)
	return 0
}

// forward copies each connection ln accepts to and from addr.
func forward(ln net.Listener, addr string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = copyConn(up, c); done <- struct{}{} }()
			go func() { _, _ = copyConn(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}

func copyConn(dst, src net.Conn) (int64, error) {
	n, err := dst.(*net.TCPConn).ReadFrom(src)
	_ = dst.(*net.TCPConn).CloseWrite()
	return n, err
}

func faultNS(i int) string { return faultNSPrefix + strconv.Itoa(i) }

// requireNetns skips (fails in CI) unless the test runs as root with ip and
// iptables.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the fault harness makes network namespaces: run it as root")
	}
	for _, bin := range []string{"ip", "iptables", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Missing(t, "the fault harness needs "+bin+" (apt-get install iproute2 iptables util-linux)")
		}
	}
}

// addNetns makes namespace i: a veth pair, 10.213.i.1 on the host's side,
// 10.213.i.2 in the namespace, and 127.0.0.1:proxyPort in the namespace
// sent to 10.213.i.1:proxyPort.
func addNetns(t *testing.T, i, proxyPort int) {
	t.Helper()
	ns, hostIf, nsIf := faultNS(i), faultNSPrefix+"h"+strconv.Itoa(i), faultNSPrefix+"n"+strconv.Itoa(i)
	host, guest := fmt.Sprintf("10.213.%d.1", i), fmt.Sprintf("10.213.%d.2", i)
	port := strconv.Itoa(proxyPort)
	for _, c := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "set", nsIf, "netns", ns},
		{"ip", "link", "set", hostIf, "up"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"},
		{"ip", "netns", "exec", ns, "ip", "addr", "add", guest + "/24", "dev", nsIf},
		{"ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up"},
		{"ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", host},
		{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"},
		{"ip", "netns", "exec", ns, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", port, "-j", "DNAT", "--to-destination", host + ":" + port},
		{"ip", "netns", "exec", ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", nsIf, "-j", "MASQUERADE"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

// addrOnHost adds the host side's address; separate so that listeners can
// bind before the namespace's rules name their port.
func addrOnHost(t *testing.T, i int) {
	t.Helper()
	hostIf := faultNSPrefix + "h" + strconv.Itoa(i)
	for _, c := range [][]string{
		{"ip", "link", "add", hostIf, "type", "veth", "peer", "name", faultNSPrefix + "n" + strconv.Itoa(i)},
		{"ip", "addr", "add", fmt.Sprintf("10.213.%d.1/24", i), "dev", hostIf},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

// cleanupNetns removes the harness's namespaces and host-side veths, by
// name, whether this run made them or a killed one left them.
func cleanupNetns(t *testing.T, hosts int) {
	for i := 1; i <= hosts; i++ {
		_ = exec.Command("ip", "netns", "del", faultNS(i)).Run()
		_ = exec.Command("ip", "link", "del", faultNSPrefix+"h"+strconv.Itoa(i)).Run()
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// chaosWait is how long the harness waits before its next fault: a few
// seconds between faults, but only a moment while no worker was killed yet,
// so that the first worker kill comes while builds still run.
func chaosWait(rng *rand.Rand, workersKilled int32) time.Duration {
	if workersKilled == 0 {
		return 300 * time.Millisecond
	}
	return time.Duration(3+rng.IntN(8)) * time.Second
}
