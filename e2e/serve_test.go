package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestServe runs hoist serve as a user does: adds a user and a token with
// the CLI, builds the busybox example through the API and follows its log,
// reads the metrics, then kills the server in the middle of a build and
// checks that the restarted server fails that build as interrupted.
func TestServe(t *testing.T) {
	testenv.DockerHost(t)
	repo := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	base := "http://" + addr
	args := []string{"serve", "--trust-index", "--index", filepath.Join(repo, "examples/index.d"), "--addr", addr,
		"--data", data, "--registry-addr", freeAddr(t), "--workers", "2"}
	srv := startServe(t, args...)
	mustContain(t, "serve output", srv.waitOutput(t, "hoist is serving"), "hoist is serving "+base)

	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--admin", "--data", data, "alice"); r.code != 0 {
		t.Fatalf("user add:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--data", data, "alice")
	if r.code != 0 {
		t.Fatalf("token create:\n%s", r)
	}
	env := []string{"HOIST_TOKEN=" + strings.TrimSpace(r.stdout), "HOIST_SERVER=" + base}

	// Tracking the index, the server queued a build of every example.
	r = hoist(t, env, "logs", "-f", "examples/busybox#1")
	if r.code != 0 {
		t.Fatalf("hoist logs -f:\n%s\n--- server:\n%s", r, srv.output())
	}
	mustContain(t, "hoist logs -f", r.stdout, "=== build\n", firstStep(), "=== deliver: succeeded", "examples/busybox:latest #1: succeeded")
	b := getBuild(t, base, "examples/busybox", 1)
	if b.Status != pipeline.StatusSucceeded || !strings.HasPrefix(b.Digest, "sha256:") || b.Cause != "index changed" {
		t.Errorf("build #1: %+v, want succeeded, caused by the index", b)
	}
	st := openStore(t, data)
	waitFor(t, "the index's builds to end", func() bool { active, err := st.Active(context.Background()); return err == nil && len(active) == 0 })
	// The metrics count a build just after the store records its end.
	waitFor(t, "the metrics to count the 3 builds", func() bool {
		return strings.Contains(get(t, base+"/metrics"), `hoist_builds_total{result="succeeded"} 3`)
	})
	mustContain(t, "/metrics", get(t, base+"/metrics"), `hoist_builds_total{result="succeeded"} 3`,
		`hoist_stage_duration_seconds_count{stage="build"} 3`, `hoist_queue_length{status="running"} 0`)

	// Kill the server in the middle of build #2, then start it again.
	// Forced: with nothing changed it would be skipped as unchanged.
	if r := hoist(t, env, "build", "--force", "examples/busybox"); r.code != 0 {
		t.Fatalf("hoist build:\n%s", r)
	}
	waitFor(t, "build #2 to run", func() bool { return getBuild(t, base, "examples/busybox", 2).Status == pipeline.StatusRunning })
	srv.kill(t)
	srv = startServe(t, args...)
	srv.waitOutput(t, "hoist is serving")
	// The killed server's build runs again at once, as its attempt 2: the
	// restarted server ends the leases its predecessor held.
	waitFor(t, "build #2 to run again and end", func() bool { return getBuild(t, base, "examples/busybox", 2).Status.Done() })
	b2, err := st.BuildNumber(context.Background(), "examples/busybox:latest", 2)
	if err != nil || b2.Status != pipeline.StatusSucceeded || b2.Attempt != 2 {
		t.Errorf("the interrupted build #2: %s attempt %d %q (%v), want succeeded as attempt 2", b2.Status, b2.Attempt, b2.Reason, err)
	}
	mustContain(t, "build #2's checkout log", logOf(st, b2.ID, pipeline.StageCheckout), "attempt 2: attempt 1 lost its runner")
	// When attempt 2 built a new digest, the web example (FROM busybox)
	// is queued once build #2 has ended, a moment later: wait for that
	// build to end. Then nothing may be left queued or running.
	if b2.Digest != b.Digest {
		waitFor(t, "the web example's build that build #2's new digest queued", func() bool {
			w, err := st.BuildNumber(context.Background(), "examples/web:v1.0.0", 2)
			return err == nil && w.Status.Done()
		})
	}
	if active, err := st.Active(context.Background()); err != nil || len(active) != 0 {
		t.Errorf("builds still queued or running after the restart: %+v %v", active, err)
	}
	mustContain(t, "/metrics after the restart", get(t, base+"/metrics"), `hoist_queue_length{status="running"} 0`)
	srv.stop(t)
}

// served is a running hoist serve.
type served struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startServe starts hoist serve and waits until /readyz answers 200.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	s := &served{cmd: exec.Command(hoistBin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		t.Logf("hoist %s\n%s", strings.Join(args, " "), s.output())
	})
	var addr string
	for i, a := range args {
		if a == "--addr" {
			addr = args[i+1]
		}
	}
	waitFor(t, "hoist serve to be ready", func() bool {
		select {
		case <-s.done:
			t.Fatalf("hoist serve exited:\n%s", s.output())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

func (s *served) output() string { return s.out.String() }

// waitOutput waits until the output holds want, and returns it.
func (s *served) waitOutput(t *testing.T, want string) string {
	t.Helper()
	waitFor(t, fmt.Sprintf("%q in the output", want), func() bool { return strings.Contains(s.output(), want) })
	return s.output()
}

// kill ends the server at once, as a crash does.
func (s *served) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

// stop asks the server to stop, as Ctrl-C does, and checks it does.
func (s *served) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("hoist serve did not stop within 30 s of SIGINT:\n%s", s.output())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("hoist serve exited %d after SIGINT:\n%s", code, s.output())
	}
}

// hoistStdin runs the hoist binary with stdin.
func hoistStdin(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	return runHoist(t, command{stdin: stdin, env: env, timeout: time.Minute}, args...)
}

// apiBuild is the part of the API's build the test reads.
type apiBuild struct {
	ID     int64           `json:"id"`
	Number int             `json:"number"`
	Status pipeline.Status `json:"status"`
	Reason string          `json:"reason"`
	Digest string          `json:"digest"`
	Cause  string          `json:"cause"`
}

// getBuild reads build #n of project from the API.
func getBuild(t *testing.T, base, project string, n int) apiBuild {
	t.Helper()
	var out struct{ Builds []apiBuild }
	if err := json.Unmarshal([]byte(get(t, base+"/api/v1/projects/"+project+"/builds?limit=0")), &out); err != nil {
		t.Fatal(err)
	}
	for _, b := range out.Builds {
		if b.Number == n {
			return b
		}
	}
	t.Fatalf("%s has no build #%d: %+v", project, n, out.Builds)
	return apiBuild{}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// waitFor polls cond for up to two minutes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
