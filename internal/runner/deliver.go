package runner

import (
	"context"
	"fmt"
	"io"

	"github.com/hoistci/hoist/internal/pipeline"
)

// deliver promotes the tested image registry-side: NAME@digest becomes
// NAME:rc, then NAME:<desired-tag>. Each is one manifest copy in the
// registry, with no layer uploaded and nothing pulled. It then checks that
// :test, :rc and the final tag all name the tested digest, and records the
// delivery.
func (r *Runner) deliver(ctx context.Context, j *job, log io.Writer) error {
	src := r.opts.RegistryHost + "/" + j.project.Image().Repository() + "@" + j.digest
	final := r.ref(j, j.project.Tag)
	for _, dst := range []string{r.ref(j, "rc"), final} {
		fmt.Fprintf(log, "tagging %s as %s\n", src, dst)
		d, err := r.deps.Registry.Tag(ctx, src, dst)
		if err != nil {
			return err
		}
		if d != j.digest {
			return fmt.Errorf("%s has digest %s, want the tested %s", dst, d, j.digest)
		}
	}
	for _, ref := range []string{r.ref(j, "test"), r.ref(j, "rc"), final} {
		d, err := r.deps.Registry.Digest(ctx, ref)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", ref, err)
		}
		if d != j.digest {
			return fmt.Errorf("verifying %s: digest %s, want %s (another build of the same repository may have run at once)", ref, d, j.digest)
		}
		fmt.Fprintf(log, "%s = %s\n", ref, d)
	}
	j.build.Image, j.build.Digest = final, j.digest
	err := r.deps.Store.RecordImage(ctx, pipeline.DeliveredImage{
		Image: final, Project: j.project.Key(), Digest: j.digest, Commit: j.build.Commit,
		BuildID: j.build.ID, Delivered: now(),
	})
	if err != nil {
		return fmt.Errorf("recording the delivery: %w", err)
	}
	fmt.Fprintf(log, "delivered %s@%s\n", final, j.digest)
	return nil
}
