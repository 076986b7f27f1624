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

// command prepares git with args in dir, never prompting, in its own
// process group so that a cancelled ctx also stops its helpers (ssh,
// git-remote-https).
func (c *call) command(dir string, args ...string) *exec.Cmd {
	bin := c.git.Binary
	if bin == "" {
		bin = "git"
	}
	full := append([]string{"-c", "credential.interactive=never"}, args...)
	cmd := exec.CommandContext(c.ctx, bin, full...)
	cmd.Dir = dir
	// Marked with the build, so that a restarted server kills a git a
	// crash left hanging on a server that does not answer.
	cmd.Env = append(c.git.lowSpeed(environ()), pipeline.OwnerOf(c.ctx).Env()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// killGroup kills cmd's process group.
func killGroup(cmd *exec.Cmd) error {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return os.ErrProcessDone
	}
	return nil
}

// environ is Hoist's environment with every way git could ask for a
// password switched off.
func environ() []string {
	env := append(os.Environ(),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=", // set and empty: neither core.askPass nor SSH_ASKPASS is tried
		"SSH_ASKPASS_REQUIRE=never",
		"GCM_INTERACTIVE=never",
		"LC_ALL=C", // English messages, which classify reads
		"LANGUAGE=",
	)
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
	cmd := c.command(dir, args...)
	out := &tee{log: c.log}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	return string(out.tail), err
}

// output runs git with args in dir without logging and returns its
// standard output, trimmed.
func (c *call) output(dir string, args ...string) (string, error) {
	cmd := c.command(dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, lastLine(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
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
	case strings.Contains(u, "://"), scpLike(u):
		return u, nil
	}
	abs, err := filepath.Abs(u)
	if err != nil {
		return "", fmt.Errorf("repository path %s: %w", u, err)
	}
	return "file://" + abs, nil
}

// scpLike reports whether u is an scp-like ssh address (user@host:path):
// git's rule is a colon before the first slash.
func scpLike(u string) bool {
	colon := strings.IndexByte(u, ':')
	slash := strings.IndexByte(u, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}
