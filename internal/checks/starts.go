package checks

import (
	"context"
	"fmt"
	"io"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checkStarts runs the image's own command: it passes when the container
// exits 0 or is still up after StayUp.
func checkStarts(ctx context.Context, r *run) outcome {
	if len(r.cfg.Entrypoint) == 0 && len(r.cfg.Cmd) == 0 {
		return outcome{status: pipeline.CheckNA, detail: "nothing to start: no CMD or ENTRYPOINT"}
	}
	ctx, cancel := context.WithTimeout(ctx, r.s.opts.StartTimeout)
	defer cancel()
	var out tail
	res, err := r.s.d.Engine.Run(ctx, pipeline.RunSpec{
		Image:  r.spec.Image,
		Labels: map[string]string{"io.hoist.check": "starts"},
		StayUp: r.s.opts.StayUp,
	}, io.MultiWriter(r.log, &out))
	o := outcome{output: out.String()}
	switch {
	case err != nil:
		o.status, o.detail = pipeline.CheckFail, fmt.Sprintf("the container did not start: %v", err)
	case !res.Exited:
		o.status, o.detail = pipeline.CheckPass, fmt.Sprintf("still running after %s", r.s.opts.StayUp)
	case res.ExitCode == 0:
		o.status, o.detail = pipeline.CheckPass, "exited 0"
	default:
		o.status, o.detail = pipeline.CheckFail, fmt.Sprintf("the container exited with status %d within %s (its output is above)", res.ExitCode, r.s.opts.StayUp)
	}
	return o
}
