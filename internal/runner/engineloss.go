package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// engineRetries is how many times a stage runs again because the container
// engine went away while it ran (see pipeline.EngineLoss).
const engineRetries = 2

// DefaultEngineWait is how long a stage waits for a lost engine to answer
// again before it fails, when Options.EngineWait is not set: 5 minutes.
const DefaultEngineWait = 5 * time.Minute

// engineStages are the stages that use the engine; the others (checkout,
// lint, deliver) never fail because of it.
var engineStages = map[pipeline.StageName]bool{
	pipeline.StagePrebuild: true, pipeline.StageBuild: true, pipeline.StageTest: true, pipeline.StageScan: true,
}

// engineBack decides, after the stage name of j failed with err on its
// try-th run, whether to run it again because the engine was lost (it
// stopped or restarted): then it says so in the stage's log, waits for
// the engine to answer again (Options.EngineWait at most), puts j back as
// it was before the stage (saved) and returns true. A build is not failed
// for good because its engine restarted; a stage that fails again for
// its own reasons fails as usual.
func (r *Runner) engineBack(ctx context.Context, j *job, saved job, name pipeline.StageName, err error, try int, lw *logWriter) bool {
	loss, ok := r.deps.Engine.(pipeline.EngineLoss)
	if !ok || err == nil || try > engineRetries || !engineStages[name] || ctx.Err() != nil || !loss.EngineLost(ctx, err) {
		return false
	}
	lw.note(fmt.Sprintf("\n[hoist] the container engine went away while %s ran (%s): waiting for it to answer again, then running %s again (%d of %d)\n",
		name, firstLine(err.Error()), name, try, engineRetries))
	r.opts.Logger.Warn("the container engine went away: the stage runs again once it answers", "build", j.build.ID, "stage", name, "err", err)
	wctx, cancel := context.WithTimeout(ctx, r.opts.EngineWait)
	defer cancel()
	if werr := loss.AwaitEngine(wctx); werr != nil {
		lw.note(fmt.Sprintf("[hoist] the container engine did not answer within %s: %v\n", r.opts.EngineWait, werr))
		return false
	}
	// The stage's early scan (started with the test stage) may have
	// failed with the engine: it starts again with the test stage, and
	// the scan stage scans by itself.
	// So may the push of NAME:test: it starts again with the test stage.
	r.stopScan(j)
	r.stopPush(j)
	*j = saved
	j.scanning = nil
	if name == pipeline.StageTest {
		r.startPush(ctx, j)
		r.startScan(ctx, j)
	}
	lw.note("[hoist] the container engine answers again\n\n")
	return true
}
