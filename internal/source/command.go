package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// maxTail is how much of a command's output is kept to explain a failure.
const maxTail = 64 << 10

// call is one checkout: the context, the log and the URL as shown to users.
type call struct {
	git   *Git
	ctx   context.Context
	log   io.Writer
	shown string // the URL as the user gave it, password redacted
}

// Runner runs the git commands of a Git: on Hoist's host (the default),
// or somewhere else, such as a pod, so that the checkout's logic is the
// same wherever git runs.
type Runner interface {
	// Run runs git with args in the folder dir ("" for the runner's own
	// working folder), with env added to its environment, its standard
	// output to stdout and its standard error to stderr (Run never writes
	// to them at once: they may be one writer), and returns once it has
	// ended: nil when it exited with status 0, else an error saying how it
	// ended ("exit status 128"). When ctx ends, git and every process it
	// started are stopped. Safe for concurrent use.
	Run(ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer) error
}

// runner is g's Runner, git on this host by default.
func (g *Git) runner() Runner {
	if g.Runner != nil {
		return g.Runner
	}
	return hostRunner{bin: g.Binary}
}

// onHost reports whether git runs on this host, where Checkout's folder is.
func (g *Git) onHost() bool { return g.Runner == nil }

// hostRunner runs git on this host with Hoist's environment, in a process
// group of its own so that a cancelled ctx also stops its helpers (ssh,
// git-remote-https).
type hostRunner struct{ bin string }

func (h hostRunner) Run(ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer) error {
	bin := h.bin
	if bin == "" {
		bin = "git"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	return cmd.Run()
}

// runGit runs git with args in dir through the runner, never prompting.
func (c *call) runGit(dir string, stdout, stderr io.Writer, args ...string) error {
	full := append([]string{"-c", "credential.interactive=never"}, args...)
	// Marked with the build, so that a restarted server kills a git a
	// crash left hanging on a server that does not answer.
	env := append(c.git.lowSpeed(environ()), pipeline.OwnerOf(c.ctx).Env()...)
	return c.git.runner().Run(c.ctx, dir, full, env, stdout, stderr)
}

// killGroup kills cmd's process group.
func killGroup(cmd *exec.Cmd) error {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return os.ErrProcessDone
	}
	return nil
}

// environ is what git's environment gets on top of the runner's (Hoist's
// own, on this host): every way git could ask for a password switched off.
func environ() []string {
	env := []string{
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=", // set and empty: neither core.askPass nor SSH_ASKPASS is tried
		"SSH_ASKPASS_REQUIRE=never",
		"GCM_INTERACTIVE=never",
		"LC_ALL=C", // English messages, which classify reads
		"LANGUAGE=",
	}
	if os.Getenv("GIT_SSH_COMMAND") == "" && os.Getenv("GIT_SSH") == "" {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return env
}

// DefaultLowSpeedTime is how long git may receive (almost) nothing over
// HTTP before it gives up, when Git.LowSpeedTime is not set.
const DefaultLowSpeedTime = time.Minute

// lowSpeed adds git's HTTP low-speed limit to env: a server that accepts
// the connection and then sends less than 1 byte a second for LowSpeedTime
// ends the command ("Operation too slow"), rather than hanging until the
// checkout's timeout. Limits already in the environment are kept.
func (g *Git) lowSpeed(env []string) []string {
	if os.Getenv("GIT_HTTP_LOW_SPEED_LIMIT") != "" || os.Getenv("GIT_HTTP_LOW_SPEED_TIME") != "" {
		return env
	}
	secs := max(int((g.lowSpeedTime()+time.Second-1)/time.Second), 1)
	return append(env, "GIT_HTTP_LOW_SPEED_LIMIT=1", fmt.Sprintf("GIT_HTTP_LOW_SPEED_TIME=%d", secs))
}

// lowSpeedTime is LowSpeedTime or its default.
func (g *Git) lowSpeedTime() time.Duration {
	if g.LowSpeedTime <= 0 {
		return DefaultLowSpeedTime
	}
	return g.LowSpeedTime
}

// run runs git with args in dir, showing the command line and its output
// (stdout and stderr, interleaved) in the log, and returns the end of the
// output.
func (c *call) run(dir string, args ...string) (string, error) {
	shown := make([]string, len(args))
	for i, a := range args {
		shown[i] = pipeline.RedactURL(a)
	}
	fmt.Fprintf(c.log, "$ git %s\n", strings.Join(shown, " "))
	out := &tee{log: c.log}
	err := c.runGit(dir, out, out, args...)
	return string(out.tail), err
}

// output runs git with args in dir without logging and returns its
// standard output, trimmed.
func (c *call) output(dir string, args ...string) (string, error) {
	var out, stderr bytes.Buffer
	if err := c.runGit(dir, &out, &stderr, args...); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, lastLine(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// tee copies output to the log and keeps its last maxTail bytes. A failing
// log does not stop git.
type tee struct {
	log  io.Writer
	tail []byte
}

func (t *tee) Write(p []byte) (int, error) {
	_, _ = t.log.Write([]byte(pipeline.RedactText(string(p))))
	t.tail = append(t.tail, p...)
	if n := len(t.tail); n > maxTail {
		t.tail = append(t.tail[:0:0], t.tail[n-maxTail:]...)
	}
	return len(p), nil
}

// remoteURL returns the URL to give git: URLs and scp-like addresses as
// they are, local paths as absolute file:// URLs (git ignores --depth for
// plain paths).
func remoteURL(u string) (string, error) {
	switch {
	case u == "":
		return "", errors.New("empty repository URL")
	case strings.HasPrefix(u, "-"):
		return "", fmt.Errorf("repository URL %q must not start with '-'", u)
	case strings.Contains(u, "://"), pipeline.IsSCPLike(u):
		return u, nil
	}
	abs, err := filepath.Abs(u)
	if err != nil {
		return "", fmt.Errorf("repository path %s: %w", u, err)
	}
	return "file://" + abs, nil
}
