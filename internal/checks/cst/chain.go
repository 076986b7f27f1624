package cst

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// A test with setup commands runs, without committing containers (an
// executor may have no "commit"), as one chain in one container through
// the image's /bin/sh: each setup command, then the command, then each
// teardown command, one after another, each in a subshell of its own (so
// that a cd or a variable of one does not reach the next), in the same
// filesystem. After each step the script writes a marker line with the
// step's exit status on both streams; segments splits the output there.
// Unlike upstream's commits, the steps share one container: a process a
// setup command leaves running is still there for the command, and the
// shell may add PWD or SHLVL to the command's environment.

// chainShell is the shell a chain runs through.
const chainShell = "/bin/sh"

// notStarted is the status a marker gives a step whose program the image
// does not have: as a container that cannot start, it is not run.
const notStarted = "x"

// step is one command of a chain.
type step struct {
	argv []string
	env  []string // exported before it runs, KEY=value
	stop bool     // when it cannot start, the chain stops there
}

// envName is what a shell can export.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// chainScript is the shell script that runs steps in order, writing
// "\n<token> <status>\n" after each on stdout and stderr.
func chainScript(token string, steps []step) string {
	var b strings.Builder
	b.WriteString(`hoist_can() { case $1 in */*) [ -f "$1" ] && [ -x "$1" ];; *) command -v "$1" >/dev/null 2>&1;; esac; }` + "\n")
	fmt.Fprintf(&b, "hoist_end() { printf '\\n%s %%s\\n' \"$1\"; printf '\\n%s %%s\\n' \"$1\" >&2; }\n", token, token)
	for _, s := range steps {
		prog := quoteWord(s.argv[0])
		fmt.Fprintf(&b, "if hoist_can %s; then (", prog)
		for _, kv := range s.env {
			if k, _, _ := strings.Cut(kv, "="); envName.MatchString(k) {
				fmt.Fprintf(&b, " export %s;", quoteWord(kv))
			}
		}
		b.WriteString(" exec")
		for _, a := range s.argv {
			b.WriteString(" " + quoteWord(a))
		}
		fmt.Fprintf(&b, " ); hoist_end $?; else echo %s >&2; hoist_end %s;", quoteWord(s.argv[0]+": not found in the image, or not executable"), notStarted)
		if s.stop {
			b.WriteString(" exit 0;")
		}
		b.WriteString(" fi\n")
	}
	return b.String()
}

// quoteWord quotes s as one word for a POSIX shell.
func quoteWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newToken returns a marker no output is expected to hold.
func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "hoist-step-" + hex.EncodeToString(b)
}

// segments splits one stream of a chain's output at the marker lines:
// what comes before the n-th marker goes to ws[n], and codes collects the
// markers' statuses. The newline a marker starts with is not the step's.
type segments struct {
	mark    []byte
	ws      []io.Writer
	codes   []string
	pending []byte
}

func newSegments(token string, ws ...io.Writer) *segments {
	return &segments{mark: []byte("\n" + token + " "), ws: ws}
}

func (s *segments) Write(p []byte) (int, error) {
	s.pending = append(s.pending, p...)
	for len(s.codes) < len(s.ws) {
		w := s.ws[len(s.codes)]
		i := bytes.Index(s.pending, s.mark)
		if i < 0 {
			// Keep what may be the start of a marker.
			if keep := len(s.mark) - 1; len(s.pending) > keep {
				w.Write(s.pending[:len(s.pending)-keep])
				s.pending = append(s.pending[:0:0], s.pending[len(s.pending)-keep:]...)
			}
			return len(p), nil
		}
		rest := s.pending[i+len(s.mark):]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			w.Write(s.pending[:i])
			s.pending = append(s.pending[:0:0], s.pending[i:]...)
			return len(p), nil
		}
		w.Write(s.pending[:i])
		s.codes = append(s.codes, string(rest[:nl]))
		s.pending = append(s.pending[:0:0], rest[nl+1:]...)
	}
	s.pending = nil // nothing is written after the last step's marker
	return len(p), nil
}

// flush gives what is held back to the step that was running when the
// stream ended (a chain cut short).
func (s *segments) flush() {
	if n := len(s.codes); n < len(s.ws) && len(s.pending) > 0 {
		s.ws[n].Write(s.pending)
	}
	s.pending = nil
}

// runFunc starts cmd in a container from img, follows its output to
// stdout and stderr and returns its exit status (command's run).
type runFunc func(img string, cmd, env []string, stdout, stderr io.Writer) (code int, id string, err error)

// chained runs t's setup commands, full (the command, with cmdEnv) and
// t's teardown commands in one container of image, whose environment is
// sideEnv, and writes the command's output to stdout and stderr. It logs
// the setup commands; teardown logs the teardown commands once the
// command's result is logged. fails is set when a setup command did not
// run to its end, err when the command did not.
func (r *Runner) chained(run runFunc, image string, t Test, full, sideEnv, cmdEnv []string, stdout, stderr, log io.Writer) (code int, fails []string, teardown func(), err error) {
	token := newToken()
	var steps []step
	var outs, tdOuts []io.Writer
	setupOut := make([]*bounded, len(t.Setup))
	for i, cmd := range t.Setup {
		setupOut[i] = &bounded{max: r.ReportOutput}
		outs = append(outs, setupOut[i])
		steps = append(steps, step{argv: cmd, stop: true})
	}
	steps = append(steps, step{argv: full, env: cmdEnv, stop: true})
	tdOut := make([]*bounded, len(t.Teardown))
	for i, cmd := range t.Teardown {
		tdOut[i] = &bounded{max: r.ReportOutput}
		tdOuts = append(tdOuts, tdOut[i])
		steps = append(steps, step{argv: cmd})
	}
	so := newSegments(token, append(append(append([]io.Writer{}, outs...), stdout), tdOuts...)...)
	se := newSegments(token, append(append(append([]io.Writer{}, outs...), stderr), tdOuts...)...)
	status, _, err := run(image, []string{chainShell, "-c", chainScript(token, steps)}, sideEnv, so, se)
	so.flush()
	se.flush()
	codes := so.codes
	ended := func() error {
		if err != nil {
			return err
		}
		return fmt.Errorf("it did not finish: the container exited with status %d", status)
	}
	for i, cmd := range t.Setup {
		fmt.Fprintf(log, "setup %d: %s\n", i+1, shellQuote(cmd))
		writeOutput(log, setupOut[i])
		switch {
		case i >= len(codes):
			return 0, []string{fmt.Sprintf("setup command %d %s: %v", i+1, shellQuote(cmd), ended())}, nil, nil
		case codes[i] == notStarted:
			return 0, []string{fmt.Sprintf("setup command %d %s: %s is not in the image, or not executable", i+1, shellQuote(cmd), cmd[0])}, nil, nil
		case codes[i] != "0":
			// Upstream does not check a setup command's exit code.
			fmt.Fprintf(log, "setup %d exited %s (not checked, as upstream)\n", i+1, codes[i])
		}
	}
	teardown = func() {
		for i, cmd := range t.Teardown {
			fmt.Fprintf(log, "teardown %d: %s\n", i+1, shellQuote(cmd))
			writeOutput(log, tdOut[i])
			switch n := len(t.Setup) + 1 + i; {
			case n >= len(codes):
				fmt.Fprintf(log, "teardown %d did not finish (the result stands)\n", i+1)
			case codes[n] == notStarted:
				fmt.Fprintf(log, "teardown %d: %s is not in the image, or not executable (the result stands)\n", i+1, cmd[0])
			case codes[n] != "0":
				fmt.Fprintf(log, "teardown %d exited %s (the result stands)\n", i+1, codes[n])
			}
		}
	}
	n := len(t.Setup)
	switch {
	case n >= len(codes):
		return 0, nil, teardown, ended()
	case codes[n] == notStarted:
		return 0, nil, teardown, fmt.Errorf("%s is not in the image, or not executable", full[0])
	}
	if _, err := fmt.Sscanf(codes[n], "%d", &code); err != nil {
		return 0, nil, teardown, fmt.Errorf("reading its exit status %q: %w", codes[n], err)
	}
	return code, nil, teardown, nil
}
