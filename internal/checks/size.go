package checks

import (
	"context"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checkSize compares the image's size, as the engine reports it, with the
// project's budget (cccp.yml size-budget) or the server's.
func checkSize(_ context.Context, r *run) outcome {
	budget, from := r.s.opts.SizeBudget, "the server's default"
	if r.spec.Config.SizeBudget > 0 {
		budget, from = r.spec.Config.SizeBudget, r.spec.Config.File+" size-budget"
	}
	if r.cfg.Size <= 0 {
		return outcome{status: pipeline.CheckNA, detail: "the engine reported no size for the image"}
	}
	d := fmt.Sprintf("%s for a budget of %s (%s)", mb(r.cfg.Size), mb(budget), from)
	if r.cfg.Size > budget {
		return outcome{status: pipeline.CheckFail, detail: "the image is " + d + "; make it smaller or raise size-budget in cccp.yml"}
	}
	return outcome{status: pipeline.CheckPass, detail: "the image is " + d}
}

// mb formats a size in bytes as megabytes (10^6 bytes).
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
