package checks

import (
	"context"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checkSize compares the image's size, as the registry stores it (the sum
// of its compressed layers), with the project's budget (cccp.yml
// size-budget) or the server's.
func checkSize(_ context.Context, r *run) outcome {
	budget, from := r.s.opts.SizeBudget, "the server's default"
	if r.spec.Config.SizeBudget > 0 {
		budget, from = r.spec.Config.SizeBudget, r.spec.Config.File+" size-budget"
	}
	if r.cfg.Size <= 0 {
		return outcome{status: pipeline.CheckNA, detail: "the registry reported no layer sizes for the image"}
	}
	d := fmt.Sprintf("the image is %s for a budget of %s (%s)", mb(r.cfg.Size), mb(budget), from)
	const how = " (the size of its compressed layers in the registry)"
	if r.cfg.Size > budget {
		return outcome{status: pipeline.CheckFail, detail: d + how + "; make it smaller or raise size-budget in cccp.yml"}
	}
	return outcome{status: pipeline.CheckPass, detail: d + how}
}

// mb formats a size in bytes as megabytes (10^6 bytes).
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
