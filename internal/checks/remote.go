package checks

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// remoteConfig reads the image's configuration from the registry.
func (r *run) remoteConfig(ctx context.Context) (pipeline.ImageConfig, error) {
	cfg, err := r.s.d.Layers.RemoteConfig(ctx, r.spec.Image)
	if err != nil {
		return cfg, fmt.Errorf("reading the configuration of %s from the registry: %w", r.spec.Image, err)
	}
	return cfg, nil
}

// readRemote waits for the push of the image (spec.Pushed) while the
// checks that run it already run, then reads its configuration from the
// registry into r.cfg. When either fails it stops the test with why.
func (r *run) readRemote(ctx context.Context, stop context.CancelCauseFunc, log io.Writer) {
	start := time.Now()
	fmt.Fprintf(log, "the checks that run the image start at once; the ones that read its copy in the registry wait until %s is pushed\n", r.spec.Image)
	digest, err := r.spec.Pushed(ctx)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(log, "the push of %s failed: the checks stop\n", r.spec.Image)
			stop(err) // it says what failed
		}
		return
	}
	fmt.Fprintf(log, "%s is in the registry as %s (pushed %s after the checks started)\n", r.spec.Image, digest, time.Since(start).Round(time.Millisecond))
	cfg, err := r.remoteConfig(ctx)
	if err != nil {
		stop(err)
		return
	}
	r.cfg = cfg
}
