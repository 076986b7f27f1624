package runner

import (
	"context"
	"os"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// What a build leaves as it ends: the processes and engine objects its
// stages left (reap), the image it took its tag from (releaseSuperseded),
// its workspace (cleanup) and its kept layers (closeLayers).

// reap kills the processes the build's stages left running (found by
// their marks, when Scripts can) and removes what they made in the engine
// and left there (found by the build's labels): the stages clean up after
// themselves, this catches what a cancel or a failure made them miss.
func (r *Runner) reap(ctx context.Context, j *job) {
	o := r.owner(j.build.ID)
	labels := o.Labels()
	if labels[pipeline.LabelBuild] == "" || j.unchanged != "" {
		// A build skipped as unchanged ended at a checkout that finished
		// cleanly, before any of the project's code ran: nothing to kill
		// (finding it means reading every process's environment), and a
		// no-op sweep makes no engine call.
		return
	}
	if pr, ok := r.deps.Scripts.(pipeline.ProcessReaper); ok {
		if n, err := pr.KillOwned(o); n > 0 || err != nil {
			r.opts.Logger.Info("killed processes the build left running", "build", j.build.ID, "processes", n, "err", err)
		}
	}
	if r.deps.Reaper == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	n, err := r.deps.Reaper.Reap(cctx, labels)
	if err != nil {
		r.opts.Logger.Warn("removing what the build left in the engine", "build", j.build.ID, "err", err)
	}
	if n != (pipeline.Reaped{}) {
		r.opts.Logger.Info("removed what the build left in the engine", "build", j.build.ID,
			"containers", n.Containers, "networks", n.Networks, "images", n.Images)
	}
}

// releaseSuperseded starts removing the image the build moved its :test
// tag from, the project's build before it, once the build stage made
// another: the registry holds whatever of it was delivered, and in the
// engine it would only take room, one image per build, for good. Nothing
// of this build needs it, so it goes beside the test stage; the build's
// end waits for it (j.released). The engine keeps it while something
// still needs it (pipeline.ImageReleaser): a child build's FROM names it,
// a container runs it, an image was built on it.
func (r *Runner) releaseSuperseded(ctx context.Context, j *job) {
	ir, ok := r.deps.Engine.(pipeline.ImageReleaser)
	if !ok || j.superseded == "" || j.imageID == "" || j.superseded == j.imageID || j.released != nil {
		return
	}
	j.released = make(chan struct{})
	go func() {
		defer close(j.released)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		removed, err := ir.ReleaseImage(cctx, j.superseded)
		switch {
		case err != nil:
			r.opts.Logger.Warn("removing the image the build's tag moved from", "build", j.build.ID, "image", j.superseded, "err", err)
		case removed:
			r.opts.Logger.Info("removed the image the build's tag moved from", "build", j.build.ID, "image", j.superseded)
		}
	}()
}

func (r *Runner) cleanup(j *job) {
	if j.dir == "" || r.opts.KeepWorkspace {
		return
	}
	if err := os.RemoveAll(j.dir); err != nil {
		r.opts.Logger.Warn("removing workspace", "dir", j.dir, "err", err)
	}
}

// closeLayers removes the layers j's stages kept (pipeline.LayerShare).
func (r *Runner) closeLayers(j *job, layers *pipeline.LayerShare) {
	if err := layers.Close(); err != nil {
		r.opts.Logger.Warn("removing the build's kept layers", "build", j.build.ID, "err", err)
	}
}
