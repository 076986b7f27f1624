package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
)

// The harness's own Docker engine, which it restarts mid-build: the
// machine's dockerd is shared by everyone and is never restarted. It is a
// second dockerd with its own data root, exec root, pid file and socket
// under faultEngineDir, its containers on a bridge of its own
// (faultEngineBridge, 10.214.0.0/24) and no iptables rules, so that it
// touches nothing of the main engine. It takes no --default-address-pool
// (nor --bridge=none): with either, dockerd deletes the interface docker0
// when it restarts, which is the main engine's bridge. The worker of the
// first namespace uses it through DOCKER_HOST; the busybox pipelines need
// no base image (FROM scratch), and the toolbox image is imported by the
// worker on first use.
const (
	faultEngineDir    = "/tmp/hoistflt-engine"
	faultEngineBridge = faultNSPrefix + "br"
	faultEngineAddr   = "10.214.0.1/24"
)

// faultEngine is the harness's dockerd.
type faultEngine struct {
	host string // DOCKER_HOST for its clients
	cmd  *exec.Cmd
	done chan struct{}
	logs []*os.File // one per start
}

// startFaultEngine cleans up what an earlier run left, makes the bridge and
// starts the engine; it is stopped and removed when the test ends.
func startFaultEngine(t *testing.T) *faultEngine {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Fatalf("the fault harness restarts an engine of its own and needs dockerd: apt-get install docker.io")
	}
	cleanupFaultEngine(t, nil)
	if err := os.MkdirAll(faultEngineDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"ip", "link", "add", "name", faultEngineBridge, "type", "bridge"},
		{"ip", "addr", "add", faultEngineAddr, "dev", faultEngineBridge},
		{"ip", "link", "set", faultEngineBridge, "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	e := &faultEngine{host: "unix://" + filepath.Join(faultEngineDir, "docker.sock")}
	before, _ := net.InterfaceByName("docker0")
	t.Cleanup(func() {
		cleanupFaultEngine(t, e)
		if after, err := net.InterfaceByName("docker0"); before != nil && (err != nil || after.Index != before.Index) {
			t.Errorf("the main engine's bridge docker0 (index %d) is gone or was replaced (%v): the harness's dockerd must never touch it", before.Index, err)
		}
	})
	if err := e.start(); err != nil {
		t.Fatal(err)
	}
	return e
}

// start starts dockerd on the engine's folders and waits until it answers.
func (e *faultEngine) start() error {
	log, err := os.Create(filepath.Join(faultEngineDir, fmt.Sprintf("dockerd.%d.log", len(e.logs)+1)))
	if err != nil {
		return err
	}
	e.logs = append(e.logs, log)
	cmd := exec.Command("dockerd",
		"--data-root", filepath.Join(faultEngineDir, "data"), "--exec-root", filepath.Join(faultEngineDir, "exec"),
		"--pidfile", filepath.Join(faultEngineDir, "docker.pid"), "-H", e.host,
		"--bridge", faultEngineBridge, "--iptables=false", "--ip-forward=false", "--ip-masq=false", "--userland-proxy=false")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the harness's dockerd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	e.cmd, e.done = cmd, done
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if engineAnswers(e.host) {
			return nil
		}
		select {
		case <-done:
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("the harness's dockerd exited at start:\n%s", out)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the harness's dockerd did not answer within a minute (log %s)", log.Name())
}

// restart kills dockerd with SIGKILL (its containerd goes with it; the
// containers' shims stay until the next dockerd cleans them up), waits
// down, and starts it again on the same data root. It returns how long
// the engine did not answer.
func (e *faultEngine) restart(down time.Duration) (time.Duration, error) {
	killed := time.Now()
	_ = e.cmd.Process.Kill()
	<-e.done
	time.Sleep(down)
	err := e.start()
	return time.Since(killed), err
}

// engineAnswers reports whether an engine answers /_ping at host.
func engineAnswers(host string) bool {
	c, err := net.DialTimeout("unix", strings.TrimPrefix(host, "unix://"), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "GET /_ping HTTP/1.0\r\n\r\n"); err != nil {
		return false
	}
	b := make([]byte, 12)
	n, _ := io.ReadFull(c, b)
	return strings.HasPrefix(string(b[:n]), "HTTP/1.0 200") || strings.HasPrefix(string(b[:n]), "HTTP/1.1 200")
}

// cleanupFaultEngine stops the harness's dockerd (e's, or one an earlier,
// killed run left, found by its pid file), ends the containers' shims it
// left (found by their containerd address, under faultEngineDir), unmounts
// everything under faultEngineDir, removes it and deletes the bridge.
func cleanupFaultEngine(t *testing.T, e *faultEngine) {
	if e != nil && e.cmd != nil && !exitedCh(e.done) {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.done:
		case <-time.After(20 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.done
		}
	} else if b, err := os.ReadFile(filepath.Join(faultEngineDir, "docker.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && cmdlineHas(pid, faultEngineDir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(time.Second)
		}
	}
	for _, pid := range pidsWith(faultEngineDir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if e != nil {
		for _, f := range e.logs {
			if t.Failed() {
				out, _ := os.ReadFile(f.Name())
				t.Logf("the harness's dockerd, %s:\n%s", filepath.Base(f.Name()), tail(string(out), 4000))
			}
			f.Close()
		}
	}
	mounts := mountsUnder(faultEngineDir)
	for _, m := range mounts {
		if err := syscall.Unmount(m, 0); err != nil {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(faultEngineDir); err != nil {
		t.Errorf("removing the harness's engine: %v", err)
	}
	_ = exec.Command("ip", "link", "del", faultEngineBridge).Run()
}

func exitedCh(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// cmdlineHas reports whether process pid's command line contains s.
func cmdlineHas(pid int, s string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), s)
}

// pidsWith lists the processes whose command line contains s.
func pidsWith(s string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err == nil && pid != os.Getpid() && cmdlineHas(pid, s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// engineHit is a build that ran on the harness's engine when it restarted.
type engineHit struct {
	id     int64
	stages string
}

// engineBuilds lists the running builds whose lease the worker of
// namespace ns holds and that are in a stage that uses the engine.
func engineBuilds(ctx context.Context, pool *pgxpool.Pool, ns string) ([]engineHit, error) {
	rows, err := pool.Query(ctx, `SELECT b.id, string_agg(s.name, ',') FROM builds b JOIN stages s ON s.build_id = b.id
		WHERE b.status = 'running' AND b.lease_holder LIKE $1 AND s.status = 'running' AND s.name IN ('build', 'test')
		GROUP BY b.id ORDER BY b.id`, "%"+ns+"-%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engineHit
	for rows.Next() {
		var h engineHit
		if err := rows.Scan(&h.id, &h.stages); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// engineOutcome says how a build the engine restart hit ended: its
// status, attempts, and whether a stage ran again after the engine came
// back (its log says so).
func engineOutcome(t *testing.T, ctx context.Context, db string, pool *pgxpool.Pool, id int64) (string, bool) {
	var status, project string
	var attempt int
	if err := pool.QueryRow(ctx, `SELECT status, attempt, project FROM builds WHERE id = $1`, id).Scan(&status, &attempt, &project); err != nil {
		return "unknown: " + err.Error(), false
	}
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rerun := false
	for _, stage := range []pipeline.StageName{pipeline.StageBuild, pipeline.StageTest} {
		if rc, err := st.OpenLog(ctx, id, stage, 0); err == nil {
			out, _ := io.ReadAll(rc)
			rc.Close()
			rerun = rerun || strings.Contains(string(out), "the container engine answers again")
		}
	}
	return fmt.Sprintf("%s, %s, attempt %d", project, status, attempt), rerun
}

// lockFaults makes this the only fault harness run on the machine until
// the test ends (another, in CI or another engineer's run, would fight
// over the namespaces, interfaces and engine folder, which have fixed
// names): it waits for the one running.
func lockFaults(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/run/lock/hoist-faults.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Log("another fault harness run holds /run/lock/hoist-faults.lock: waiting for it")
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { f.Close() })
}
