// Package script runs users' scripts (a project's prebuild script, its
// test script) on the host: with a minimal environment, no input, the
// output in the stage log, and a timeout that stops the script and every
// process it started.
package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// killGrace is how long a script has between SIGTERM and SIGKILL, and how
// long its leftover processes may hold its output open after it ends. A
// cancelled build must stop within 5 s, whatever its script does.
const killGrace = 2 * time.Second

// defaultPath is the PATH scripts get when Hoist has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// passedOn are the variables of Hoist's environment scripts also get.
var passedOn = []string{
	"DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
	"http_proxy", "https_proxy", "no_proxy", "all_proxy",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
}

var errTimedOut = errors.New("script timed out")

// Runner runs scripts as processes of the host. The zero value is ready to
// use and safe for concurrent use.
type Runner struct {
	// Shell runs scripts that are not executable files starting with "#!";
	// "" means /bin/sh.
	Shell string
}

var _ pipeline.ScriptRunner = (*Runner)(nil)

// RunScript runs spec.Script in spec.Dir: directly when it is an
// executable file with a "#!" line (or a binary), else with the shell. Its
// environment is PATH, HOME, LANG=C.UTF-8, Hoist's DOCKER_HOST and proxy
// variables, then spec.Env; its input is /dev/null; its output and errors
// go to log as written. The script runs in its own process group: when
// spec.Timeout passes or ctx ends, the group gets SIGTERM, then SIGKILL
// 2s later, and processes it leaves behind are killed when it ends.
//
// When ctx carries an owner (pipeline.WithOwner), the script's environment
// also has pipeline.EnvInstance and EnvBuild, which its children inherit:
// when the script ends, processes of that build that left its process
// group are killed too, and Reap finds them after a crash.
func (r *Runner) RunScript(ctx context.Context, spec pipeline.ScriptSpec, log io.Writer) error {
	path := spec.Script
	if !filepath.IsAbs(path) {
		path = filepath.Join(spec.Dir, path)
	}
	name := displayName(path, spec.Dir)
	argv, err := r.argv(path, name)
	if err != nil {
		return err
	}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, errTimedOut)
		defer cancel()
	}
	out := &output{w: log}
	if log == nil {
		out.w = io.Discard
	}
	cmd := command(ctx, argv, spec, out)
	err = cmd.Start()
	// A file someone has open for writing cannot be run (ETXTBSY). A
	// script written a moment ago can be so for that moment in a child
	// that another goroutine of this process forked meanwhile: the child
	// holds every descriptor until it execs. Try again, briefly.
	for try := 1; errors.Is(err, syscall.ETXTBSY) && try <= 10 && ctx.Err() == nil; try++ {
		time.Sleep(time.Duration(try) * 20 * time.Millisecond)
		cmd = command(ctx, argv, spec, out)
		err = cmd.Start()
	}
	if err != nil {
		return startError(name, argv, err)
	}
	err = cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever it left behind
	if o := pipeline.OwnerOf(ctx); o.Build != 0 {
		_, _ = killMarked(o) // and what left its process group (setsid)
	}
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success() {
		fmt.Fprintf(out, "\n(processes %s left running still held its output %s after it ended; they were killed)\n", name, killGrace)
	}
	return explain(ctx, cmd, err, name, spec.Timeout, out.err)
}

// displayName names the script relative to dir when it lies inside it.
func displayName(path, dir string) string {
	if dir == "" {
		return path
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return path
	}
	return filepath.ToSlash(rel)
}

// argv returns the command line that runs the script at path.
func (r *Runner) argv(path, name string) ([]string, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: not found", name)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%s: permission denied: Hoist cannot read it", name)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, not a script", name)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: is %s, not a script; Hoist runs only regular files", name, pipeline.FileKind(info.Mode()))
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	direct := bytes.HasPrefix(head, []byte("#!")) || bytes.Equal(head, []byte("\x7fELF"))
	if info.Mode()&0o111 != 0 && direct {
		return []string{path}, nil
	}
	shell := r.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	return []string{shell, path}, nil
}

// command prepares the script's process in its own process group.
func command(ctx context.Context, argv []string, spec pipeline.ScriptSpec, out io.Writer) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = append(append(baseEnv(), spec.Env...), pipeline.OwnerOf(ctx).Env()...)
	cmd.Stdout, cmd.Stderr = out, out // the same writer: one pipe, order kept
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
			return os.ErrProcessDone
		}
		return nil
	}
	cmd.WaitDelay = killGrace
	return cmd
}

// baseEnv is the minimal environment every script gets.
func baseEnv() []string {
	env := []string{"PATH=" + getenv("PATH", defaultPath), "HOME=" + getenv("HOME", "/"), "LANG=C.UTF-8"}
	for _, k := range passedOn {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func getenv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// output passes the script's output to the log. A failing log does not
// stop the script; the first error is kept.
type output struct {
	w   io.Writer
	err error
}

func (o *output) Write(p []byte) (int, error) {
	if _, err := o.w.Write(p); err != nil && o.err == nil {
		o.err = err
	}
	return len(p), nil
}
