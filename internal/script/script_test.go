package script_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
)

// write creates dir/name with content and mode.
func write(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs the script with content (written with mode) and returns its log
// and error.
func run(t *testing.T, ctx context.Context, content string, mode os.FileMode, timeout time.Duration, env ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	spec := pipeline.ScriptSpec{
		Script:  write(t, dir, "ci/script.sh", content, mode),
		Dir:     dir,
		Env:     env,
		Timeout: timeout,
	}
	var log bytes.Buffer
	err := (&script.Runner{}).RunScript(ctx, spec, &log)
	return log.String(), err
}

func TestRunScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantLog string
		wantErr string
	}{
		{"output in order", "#!/bin/sh\necho out1\necho err1 >&2\necho out2\necho err2 >&2\n", 0o755,
			"out1\nerr1\nout2\nerr2\n", ""},
		{"exit status", "#!/bin/sh\necho failing\nexit 3\n", 0o755, "failing\n", "ci/script.sh exited with status 3"},
		{"not executable runs with sh", "echo via sh\n", 0o644, "via sh\n", ""},
		{"executable without #! runs with sh", "echo no shebang\n", 0o755, "no shebang\n", ""},
		{"own interpreter", "#!/bin/cat\nhello\n", 0o755, "#!/bin/cat\nhello\n", ""},
		{"missing interpreter", "#!/nonexistent/interp\necho x\n", 0o755, "",
			`ci/script.sh: cannot start: its interpreter "/nonexistent/interp" was not found`},
		{"stdin is empty", "#!/bin/sh\ncat\necho done\n", 0o755, "done\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log, err := run(t, t.Context(), tt.content, tt.mode, 0)
			if got := errText(err); got != tt.wantErr {
				t.Errorf("error = %q, want %q", got, tt.wantErr)
			}
			if tt.wantLog != "" {
				if diff := cmp.Diff(tt.wantLog, log); diff != "" {
					t.Errorf("log (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRunScriptEnv(t *testing.T) {
	t.Setenv("HOIST_SECRET", "do-not-pass")
	t.Setenv("DOCKER_HOST", "unix:///test/docker.sock")
	log, err := run(t, t.Context(), "#!/bin/sh\nenv | sort\n", 0o755, 0, "FOO=bar", "LANG=en_US.UTF-8")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
	}
	for k, want := range map[string]string{
		"FOO": "bar", "LANG": "en_US.UTF-8", "DOCKER_HOST": "unix:///test/docker.sock",
		"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "HOIST_SECRET": "",
	} {
		if vars[k] != want {
			t.Errorf("%s = %q, want %q", k, vars[k], want)
		}
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "FOO": true, "PWD": true, "SHLVL": true, "_": true, "OLDPWD": true}
	for _, k := range []string{"DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"} {
		allowed[k] = true
	}
	for k := range vars {
		if !allowed[k] {
			t.Errorf("unexpected variable %s in the script's environment", k)
		}
	}
}

// TestRunScriptLeftovers runs a script that exits 0 while a child it
// started still holds its output: it succeeds once the grace period ends,
// and the child is killed.
func TestRunScriptLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	start := time.Now()
	log, err := run(t, t.Context(), "#!/bin/sh\nsleep 300 &\necho $! > "+pidFile+"\necho ok\n", 0o755, 0)
	if err != nil {
		t.Errorf("RunScript: %v", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("RunScript returned after %s", d)
	}
	if !strings.HasPrefix(log, "ok\n") || !strings.Contains(log, "were killed") {
		t.Errorf("log = %q", log)
	}
	waitDead(t, readPid(t, pidFile))
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestRunScriptWorkingDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := pipeline.ScriptSpec{Script: write(t, dir, "pwd.sh", "pwd\n", 0o644), Dir: dir}
	var log bytes.Buffer
	if err := (&script.Runner{}).RunScript(t.Context(), spec, &log); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got := strings.TrimSpace(log.String()); got != real {
		t.Errorf("pwd = %q, want %q", got, real)
	}
}

func TestRunScriptMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := pipeline.ScriptSpec{Script: filepath.Join(dir, "build/missing.sh"), Dir: dir}
	err := (&script.Runner{}).RunScript(t.Context(), spec, nil)
	if got, want := errText(err), "build/missing.sh: not found"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

// TestRunScriptTimeout runs a script that starts a child ignoring SIGTERM
// and holding the output pipe: the call must return soon after the grace
// period, and the child must be dead.
func TestRunScriptTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	content := "#!/bin/sh\n( trap '' TERM; exec sleep 300 ) &\necho $! > " + pidFile + "\necho started\nsleep 300\n"
	start := time.Now()
	log, err := run(t, t.Context(), content, 0o755, time.Second)
	elapsed := time.Since(start)
	if got, want := errText(err), "ci/script.sh timed out after 1s"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if elapsed > 9*time.Second {
		t.Errorf("RunScript returned after %s", elapsed)
	}
	if !strings.HasPrefix(log, "started\n") {
		t.Errorf("log = %q", log)
	}
	waitDead(t, readPid(t, pidFile))
}

// TestRunScriptCancel stops a script through its context.
func TestRunScriptCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := run(t, ctx, "#!/bin/sh\nsleep 300 &\nsleep 300\n", 0o755, 0)
	if err == nil || !strings.Contains(err.Error(), "ci/script.sh stopped: context deadline exceeded") {
		t.Errorf("error = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("RunScript returned after %s; the group should die on SIGTERM", d)
	}
}

// waitDead waits until pid is gone or a zombie.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for range 50 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("child %d still alive", pid)
}

// TestRunScriptCancelKillsEverything cancels a script whose children ignore
// SIGTERM, one in its process group holding its output and one that left
// the group (setsid): RunScript returns within 5 s and both are dead.
func TestRunScriptCancelKillsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inGroup, escaped := filepath.Join(dir, "in-group.pid"), filepath.Join(dir, "escaped.pid")
	content := "#!/bin/sh\ntrap '' TERM\n" +
		"( trap '' TERM; exec sleep 1000 ) &\necho $! > " + inGroup + "\n" +
		"setsid sh -c 'trap \"\" TERM; echo $$ > " + escaped + "; exec sleep 1000' </dev/null >/dev/null 2>&1 &\n" +
		"while [ ! -s " + escaped + " ]; do sleep 0.1; done\necho started\nsleep 1000\n"
	ctx, cancel := context.WithCancel(pipeline.WithOwner(t.Context(), pipeline.Owner{Instance: "test-" + strconv.Itoa(os.Getpid()) + "-" + t.Name(), Build: 1}))
	defer cancel()
	spec := pipeline.ScriptSpec{Script: write(t, dir, "ci/script.sh", content, 0o755), Dir: dir}
	log := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- (&script.Runner{}).RunScript(ctx, spec, log) }()
	for i := 0; !strings.Contains(log.String(), "started") && i < 300; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	err := <-done
	// Designed to stop in about 2 s (killGrace); 5 s is the promise.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("RunScript returned %s after the cancel", d)
	}
	if err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("error = %v, want stopped", err)
	}
	waitDead(t, readPid(t, inGroup))
	waitDead(t, readPid(t, escaped))
}

// TestReap kills the processes marked with an instance, and only those.
func TestReap(t *testing.T) {
	t.Parallel()
	mine, theirs := "test-reap-"+strconv.Itoa(os.Getpid()), "test-reap-other-"+strconv.Itoa(os.Getpid())
	start := func(instance string) *exec.Cmd {
		cmd := exec.Command("sleep", "1000")
		cmd.Env = []string{pipeline.EnvInstance + "=" + instance, pipeline.EnvBuild + "=3"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	a, b := start(mine), start(theirs)
	n, err := script.Reap(mine)
	if n != 1 || err != nil {
		t.Errorf("Reap = %d, %v; want 1 killed", n, err)
	}
	if err := a.Wait(); err == nil {
		t.Error("the marked process exited by itself")
	}
	if err := b.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the other instance's process is gone: %v", err)
	}
}

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

// TestRunScriptWaitsOutABusyFile: a script still open for writing for a
// moment (ETXTBSY, as when another goroutine forks while it is written)
// runs once it is closed, rather than fail to start.
func TestRunScriptWaitsOutABusyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "busy.sh")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("#!/bin/sh\necho ran\n"); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(path).Run(); !errors.Is(err, syscall.ETXTBSY) {
		t.Fatalf("running a file open for writing: %v, want ETXTBSY (the kernel's rule this test relies on)", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.Close()
	}()
	var log bytes.Buffer
	if err := (&script.Runner{}).RunScript(t.Context(), pipeline.ScriptSpec{Script: "busy.sh", Dir: dir}, &log); err != nil {
		t.Fatalf("RunScript: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "ran") {
		t.Errorf("the script's output is %q, want it ran", log.String())
	}
}
