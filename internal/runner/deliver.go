package runner

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hoistci/hoist/internal/pipeline"
)

// deliver promotes the tested image registry-side: NAME@digest becomes
// NAME:rc, then NAME:<desired-tag>. Each is one manifest copy in the
// registry, with no layer uploaded and nothing pulled. It then checks that
// :test, :rc and the final tag all name the tested digest, and records the
// delivery.
//
// It is idempotent, for a build run again after its runner was lost: when
// an earlier attempt of the build delivered, and the final tag still names
// what it delivered (tested by that attempt), nothing is tagged or recorded
// again, even if this attempt's image has another digest; and a tag that
// already names the tested digest is not moved again.
func (r *Runner) deliver(ctx context.Context, j *job, log io.Writer) error {
	src := r.opts.RegistryHost + "/" + j.project.Image().Repository() + "@" + j.digest
	final := r.ref(j, j.project.Tag)
	prev, done, err := r.deliveredBefore(ctx, j, final)
	if err != nil {
		return err
	}
	if done {
		j.build.Image, j.build.Digest = final, prev.Digest
		fmt.Fprintf(log, "already delivered %s@%s by an earlier attempt of this build: not tagging or recording it again\n", final, prev.Digest)
		if prev.Digest != j.digest {
			fmt.Fprintf(log, "this attempt's image %s was not delivered\n", j.digest)
		}
		return nil
	}
	if err := r.promote(ctx, src, []string{r.ref(j, "rc"), final}, j.digest, log); err != nil {
		return err
	}
	if err := r.verify(ctx, j, final, log); err != nil {
		return err
	}
	j.build.Image, j.build.Digest = final, j.digest
	err = r.deps.Store.RecordImage(ctx, pipeline.DeliveredImage{
		Image: final, Project: j.project.Key(), Digest: j.digest, Commit: j.build.Commit,
		BuildID: j.build.ID, Delivered: now(),
	})
	if err != nil {
		return fmt.Errorf("recording the delivery: %w", err)
	}
	fmt.Fprintf(log, "delivered %s@%s\n", final, j.digest)
	return nil
}

// tagged reports whether ref names digest in the registry now.
func (r *Runner) tagged(ctx context.Context, ref, digest string) (bool, error) {
	d, err := r.deps.Registry.Digest(ctx, ref)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("checking %s: %w", ref, err)
	}
	return d == digest, nil
}

// deliveredBefore finds, for an attempt after the first, the delivery of
// final an earlier attempt of this build recorded, if the registry's final
// tag still names it.
func (r *Runner) deliveredBefore(ctx context.Context, j *job, final string) (pipeline.DeliveredImage, bool, error) {
	if j.build.Attempt <= 1 {
		return pipeline.DeliveredImage{}, false, nil
	}
	img, ok := j.in.Delivered[final]
	if !ok || img.BuildID != j.build.ID {
		return pipeline.DeliveredImage{}, false, nil
	}
	tagged, err := r.tagged(ctx, final, img.Digest)
	return img, tagged, err
}

// promote tags src as each of dsts in turn, each of which must then name
// digest; a dst that names digest already is left as it is.
func (r *Runner) promote(ctx context.Context, src string, dsts []string, digest string, log io.Writer) error {
	for _, dst := range dsts {
		tagged, err := r.tagged(ctx, dst, digest)
		if err != nil {
			return err
		}
		if tagged {
			fmt.Fprintf(log, "%s is %s already: not tagging again\n", dst, digest)
			continue
		}
		fmt.Fprintf(log, "tagging %s as %s\n", src, dst)
		d, err := r.deps.Registry.Tag(ctx, src, dst)
		if err != nil {
			return err
		}
		if d != digest {
			return fmt.Errorf("%s has digest %s, want the tested %s", dst, d, digest)
		}
	}
	return nil
}

// verify checks that :test, :rc and final all name the tested digest.
func (r *Runner) verify(ctx context.Context, j *job, final string, log io.Writer) error {
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
	return nil
}
