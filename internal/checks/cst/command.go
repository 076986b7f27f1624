package cst

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
)

// command runs one command test: the command in a container of its own
// and each teardown command after it in another; with setup commands,
// the setups, the command and the teardowns run one after another in one
// container through the image's shell (chained: executors need not commit
// containers). It returns a pass detail or the failures, and the
// command's bounded output.
func (r *Runner) command(ctx context.Context, f *File, t Test, image string, fsys *imagefs.FS, imgEnv map[string]string, globals []string, log io.Writer) (pass string, fails []string, output string) {
	if len(f.runProblems) > 0 {
		return "", []string{fmt.Sprintf("not run: containerRunOptions in %s asks for what Hoist does not support (see its own result)", f.Path)}, ""
	}
	if len(t.Setup) > 0 && fsys != nil {
		if sh, ok := fsys.Stat(chainShell); !ok || !sh.Mode.IsRegular() {
			return "", []string{fmt.Sprintf("not run: the test has setup commands, which Hoist runs before the command in the same container through the image's %s, and the image has none; move the setup into the command (or the Dockerfile)", chainShell)}, ""
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.CommandTimeout)
	defer cancel()
	var containers []string
	defer func() {
		// Clean up even when ctx is done.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer ccancel()
		for _, id := range containers {
			if err := r.c.RemoveContainer(cctx, id); err != nil {
				fmt.Fprintf(log, "warning: %v\n", err)
			}
		}
	}()
	timedOut := func(err error) error {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("timed out after %s (%w)", r.CommandTimeout, err)
		}
		return err
	}
	// run starts cmd in a container from img and waits for it.
	run := func(img string, cmd, env []string, stdout, stderr io.Writer) (int, string, error) {
		id, err := r.c.StartContainer(ctx, pipeline.ContainerSpec{
			Image: img, Entrypoint: []string{}, Cmd: cmd, Env: env, User: f.RunUser, Labels: r.labels,
		})
		if err != nil {
			return 0, "", timedOut(err)
		}
		containers = append(containers, id)
		// Following the output until the container exits, then waiting,
		// gets all of it (reading the logs after the exit can miss a tail
		// the engine has not written yet).
		if err := r.c.ContainerOutput(ctx, id, stdout, stderr, true); err != nil {
			return 0, id, timedOut(err)
		}
		code, err := r.c.WaitContainer(ctx, id)
		if err != nil {
			return 0, id, timedOut(err)
		}
		return code, id, nil
	}

	// Upstream expands a test's envVars against the image's environment
	// (globalEnvVars included) for its setup containers, which commit them
	// into the image; the command's own container gets them as written.
	// A chain's container has the expanded ones, and the command's step
	// exports them as written.
	withGlobals := envMap(mergeEnv(envList(imgEnv), globals))
	var setupEnv, rawEnv []string
	for _, v := range t.EnvVars {
		setupEnv = append(setupEnv, v.Key+"="+expand(v.Value, withGlobals))
		rawEnv = append(rawEnv, v.Key+"="+v.Value)
	}
	sideEnv := mergeEnv(globals, setupEnv)

	// $VAR in command and args comes from the environment of the image the
	// command runs in: the test's envVars are in it only after a setup.
	subst := withGlobals
	if len(t.Setup) > 0 {
		subst = envMap(mergeEnv(envList(withGlobals), setupEnv))
	}
	full := []string{expand(t.Command, subst)}
	for _, a := range t.Args {
		full = append(full, expand(a, subst))
	}
	cmdEnv := mergeEnv(globals, rawEnv)
	if f.RunOptionsSet {
		// Upstream replaces the command's environment with what
		// containerRunOptions brings (nothing here) when any is set.
		cmdEnv = globals
	}
	fmt.Fprintf(log, "$ %s\n", shellQuote(full))
	stdout := &bounded{max: r.MaxOutput}
	stderr := &bounded{max: r.MaxOutput}
	var code int
	var err error
	teardown := func() { r.teardown(t, run, image, sideEnv, log) }
	if len(t.Setup) > 0 {
		var setupFails []string
		code, setupFails, teardown, err = r.chained(run, image, t, full, sideEnv, cmdEnv, stdout, stderr, log)
		if setupFails != nil {
			return "", setupFails, ""
		}
	} else {
		code, _, err = run(image, full, cmdEnv, stdout, stderr)
	}
	body := r.report(stdout, stderr, code, err == nil)
	output = "$ " + shellQuote(full) + "\n" + body
	if err != nil {
		return "", []string{fmt.Sprintf("the command %s did not run: %v", shellQuote(full), err)}, output
	}
	fmt.Fprint(log, body)

	if code != t.ExitCode {
		fails = append(fails, fmt.Sprintf("exit code: expected %d, got %d", t.ExitCode, code))
	}
	so, se := stdout.String(), stderr.String()
	fails = append(fails, matches(f.Path, "expectedOutput", t.ExpectedOutput, true, so, "stdout")...)
	fails = append(fails, matches(f.Path, "excludedOutput", t.ExcludedOutput, false, so, "stdout")...)
	fails = append(fails, matches(f.Path, "expectedError", t.ExpectedError, true, se, "stderr")...)
	fails = append(fails, matches(f.Path, "excludedError", t.ExcludedError, false, se, "stderr")...)
	if stdout.dropped > 0 || stderr.dropped > 0 {
		fmt.Fprintf(log, "note: output beyond %d bytes per stream was not matched\n", r.MaxOutput)
	}
	if len(fails) > 0 && f.RunOptionsSet && len(t.EnvVars) > 0 {
		fails = append(fails, "note: as upstream does, a test's envVars are not set for its command when containerRunOptions is set (only through setup)")
	}

	// Teardown never changes the result: upstream's docker driver skips it.
	teardown()
	if len(fails) > 0 {
		return "", fails, output
	}
	checked := len(t.ExpectedOutput) + len(t.ExcludedOutput) + len(t.ExpectedError) + len(t.ExcludedError)
	return fmt.Sprintf("exited %d as expected; %d output pattern(s) checked", code, checked), nil, output
}

// teardown runs each of t's teardown commands in a container of image of
// its own; none changes the result.
func (r *Runner) teardown(t Test, run runFunc, image string, env []string, log io.Writer) {
	for i, cmd := range t.Teardown {
		fmt.Fprintf(log, "teardown %d: %s\n", i+1, shellQuote(cmd))
		out := &bounded{max: r.ReportOutput}
		code, _, err := run(image, cmd, env, out, out)
		writeOutput(log, out)
		switch {
		case err != nil:
			fmt.Fprintf(log, "teardown %d: %v (the result stands)\n", i+1, err)
		case code != 0:
			fmt.Fprintf(log, "teardown %d exited %d (the result stands)\n", i+1, code)
		}
	}
}

// report is a command's bounded output and exit code, for the result and
// the log.
func (r *Runner) report(stdout, stderr *bounded, code int, ran bool) string {
	var b strings.Builder
	for _, s := range []struct {
		name string
		buf  *bounded
	}{{"stdout", stdout}, {"stderr", stderr}} {
		text := s.buf.String()
		if text == "" {
			continue
		}
		fmt.Fprintf(&b, "--- %s\n", s.name)
		if len(text) > r.ReportOutput {
			fmt.Fprintf(&b, "%s\n[… %d more bytes]\n", text[:r.ReportOutput], len(text)-r.ReportOutput+s.buf.dropped)
		} else {
			b.WriteString(text)
			if !strings.HasSuffix(text, "\n") {
				b.WriteString("\n")
			}
		}
	}
	if ran {
		fmt.Fprintf(&b, "--- exit code %d\n", code)
	}
	return b.String()
}

func writeOutput(log io.Writer, out *bounded) {
	if s := out.String(); s != "" {
		io.WriteString(log, s)
		if !strings.HasSuffix(s, "\n") {
			io.WriteString(log, "\n")
		}
		if out.dropped > 0 {
			fmt.Fprintf(log, "[… %d more bytes]\n", out.dropped)
		}
	}
}

// envList turns a map back into KEY=value pairs.
func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// shellQuote shows a command the way a shell would take it.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}#~!") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// bounded keeps the first max bytes written to it and counts the rest; it
// never fails, so a chatty command cannot break the copy.
type bounded struct {
	buf     []byte
	max     int
	dropped int
}

func (b *bounded) Write(p []byte) (int, error) {
	room := b.max - len(b.buf)
	if room >= len(p) {
		b.buf = append(b.buf, p...)
	} else {
		if room > 0 {
			b.buf = append(b.buf, p[:room]...)
		}
		b.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (b *bounded) String() string { return string(b.buf) }
