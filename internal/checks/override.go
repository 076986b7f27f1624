package checks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checkOverride runs the image with its command replaced by "echo TOKEN",
// keeping its ENTRYPOINT, the way "docker run --network none IMAGE echo
// TOKEN" does (echo needs no network), and passes when TOKEN is printed.
// Images without /bin/sh are not expected to run a replaced command and
// are n/a. An image without an ENTRYPOINT has nothing between the engine
// and a replaced command: when its PATH finds an echo its USER may run,
// the check passes from the layers alone (echo.go), as the
// official-images test does for such an image, without a process.
func checkOverride(ctx context.Context, r *run) outcome {
	if r.fs == nil {
		return r.noFS()
	}
	if sh, ok := r.fs.Stat("/bin/sh"); !ok || !sh.Mode.IsRegular() {
		return outcome{status: pipeline.CheckNA, detail: "no /bin/sh in the image: a replaced command is not expected to run"}
	}
	if len(r.cfg.Entrypoint) == 0 {
		if echo, ok := runnable(r.fs, r.cfg, "echo"); ok {
			return outcome{status: pipeline.CheckPass, detail: fmt.Sprintf(
				"a replaced command runs: the image has no ENTRYPOINT, so the engine runs \"echo\" itself, and PATH finds %s, which USER %q may run (read from the layers, not run)", echo, r.cfg.User)}
		}
	}
	b := make([]byte, 8)
	rand.Read(b)
	token := "hoist-override-" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(ctx, r.s.opts.StartTimeout)
	defer cancel()
	if o, ok := r.overrideInTarget(ctx, token); ok {
		return o
	}
	var out tail
	res, err := r.s.d.Engine.Run(ctx, pipeline.RunSpec{
		Image:  r.spec.Image,
		Cmd:    []string{"echo", token},
		Labels: map[string]string{"io.hoist.check": "override-cmd"},
		StayUp: r.s.opts.StayUp,
		// echo needs no network, and the image's own command gets its
		// network in the "starts" container.
		Offline: true,
	}, io.MultiWriter(r.log, &out))
	o := outcome{output: out.String()}
	run := fmt.Sprintf("docker run --network none %s echo %s", r.spec.Image, token)
	switch {
	case err != nil:
		o.status, o.detail = pipeline.CheckFail, fmt.Sprintf("%s: the container did not start: %v", run, err)
	case strings.Contains(o.output, token):
		o.status, o.detail = pipeline.CheckPass, "a replaced command runs: echo printed its argument"
	default:
		how := fmt.Sprintf("exited %d", res.ExitCode)
		if !res.Exited {
			how = fmt.Sprintf("was still running after %s", r.s.opts.StayUp)
		}
		ep := "the image's command"
		if len(r.cfg.Entrypoint) > 0 {
			ep = fmt.Sprintf("the ENTRYPOINT %q", r.cfg.Entrypoint)
		}
		o.status = pipeline.CheckFail
		o.detail = fmt.Sprintf("%s did not print %s (it %s): %s does not run a replaced command; make an entrypoint script end with exec \"$@\", or use CMD for the default command", run, token, how, ep)
	}
	return o
}

// overrideInTarget runs the image's ENTRYPOINT with "echo TOKEN" in the
// running "starts" container, beside its own command, where the executor
// can (pipeline.Execer): a process instead of a container. ok is true
// only when TOKEN was printed; anything else (no such container, it has
// exited, an ENTRYPOINT that must be the container's first process, as
// s6-overlay's /init must) is left to a container of its own, whose
// outcome is the check's.
func (r *run) overrideInTarget(ctx context.Context, token string) (outcome, bool) {
	ex, ok := r.s.d.Containers.(pipeline.Execer)
	if !ok || r.target == nil {
		return outcome{}, false
	}
	id, err := r.target.start(ctx)
	if err != nil {
		return outcome{}, false
	}
	select {
	case <-r.target.exited:
		return outcome{}, false
	default:
	}
	cmd := append(slices.Clone(r.cfg.Entrypoint), "echo", token)
	var out tail
	ectx, cancel := context.WithTimeout(ctx, r.s.opts.StayUp)
	code, err := ex.Exec(ectx, id, cmd, &out)
	cancel()
	if err != nil || code != 0 || !strings.Contains(out.String(), token) {
		return outcome{}, false
	}
	io.WriteString(r.log, out.String())
	return outcome{status: pipeline.CheckPass, output: out.String(),
		detail: "a replaced command runs: echo printed its argument (run beside the image's own command, in the container \"starts\" watches)"}, true
}
