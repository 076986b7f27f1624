package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// identify runs at the end of checkout. It records the FROM images of the
// target file, refuses a build whose image graph has a cycle through it,
// computes the build identity (the hash of the commit, the paths, the
// prebuild inputs and the delivered digests of the parents) and, unless the
// build is forced, sets j.unchanged when a build with that identity was
// delivered and its tag still points at that digest.
func (r *Runner) identify(ctx context.Context, j *job, log io.Writer) error {
	p := j.project
	if r.deps.Dockerfiles != nil {
		images, err := r.deps.Dockerfiles.FromImages(j.paths.targetFile)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(j.paths.targetFile), err)
		}
		j.from = nil
		for _, img := range images {
			if ref, ok := pipeline.FromRef(img, r.opts.RegistryHost); ok && !slices.Contains(j.from, ref) {
				j.from = append(j.from, ref)
			}
		}
		if err := r.deps.Store.SetFromImages(ctx, p.Key(), j.from); err != nil {
			return err
		}
		if len(images) > 0 {
			fmt.Fprintf(log, "FROM %s\n", strings.Join(images, ", "))
		}
	}
	if err := r.checkCycle(ctx, j); err != nil {
		return err
	}
	parents, err := r.parentDigests(ctx, j)
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, s := range []string{"hoist-build-identity/1", j.build.Commit, p.GitPath, p.TargetFile, p.BuildContext, p.PrebuildScript, p.PrebuildContext} {
		fmt.Fprintf(h, "%d:%s\n", len(s), s)
	}
	for _, s := range parents {
		fmt.Fprintf(h, "parent %s\n", s)
	}
	id := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if err := r.deps.Store.SetIdentity(ctx, j.build.ID, p.Key(), id); err != nil {
		return err
	}
	fmt.Fprintf(log, "build identity %s\n", id)
	forced := r.opts.Force
	if !forced {
		if forced, err = r.deps.Store.Forced(ctx, j.build.ID); err != nil {
			return err
		}
	}
	if forced {
		fmt.Fprintln(log, "forced: building even if these inputs were delivered before")
		return nil
	}
	prev, err := r.deps.Store.DeliveredWithIdentity(ctx, p.Key(), id)
	if errors.Is(err, pipeline.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	final := r.ref(j, p.Tag)
	if r.deps.Registry == nil {
		return nil
	}
	d, err := r.deps.Registry.Digest(ctx, final)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
		fmt.Fprintf(log, "build #%d delivered these inputs, but %s is gone: building again\n", prev.Number, final)
		return nil
	case err != nil:
		return fmt.Errorf("checking %s: %w", final, err)
	case d != prev.Digest:
		fmt.Fprintf(log, "build #%d delivered these inputs, but %s now has %s, not %s: building again\n", prev.Number, final, d, prev.Digest)
		return nil
	}
	j.unchanged = fmt.Sprintf("%ssame inputs as build #%d", pipeline.UnchangedPrefix, prev.Number)
	j.build.Image, j.build.Digest = prev.Image, prev.Digest
	fmt.Fprintf(log, "%s; %s is %s\n", j.unchanged, final, d)
	return nil
}

// parentRefs are the images the build builds on that Hoist may build:
// depends-on and the FROM images, without duplicates.
func parentRefs(j *job) []pipeline.ImageRef {
	out := slices.Clone(j.project.DependsOn)
	for _, f := range j.from {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// parentDigests lists "ns/name:tag@digest" for every parent Hoist
// delivered, sorted.
func (r *Runner) parentDigests(ctx context.Context, j *job) ([]string, error) {
	refs := parentRefs(j)
	if len(refs) == 0 {
		return nil, nil
	}
	images, err := r.deps.Store.Images(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading delivered images: %w", err)
	}
	delivered := map[string]string{}
	for _, img := range images {
		delivered[img.Image] = img.Digest
	}
	var out []string
	for _, ref := range refs {
		if d, ok := delivered[ref.In(r.opts.RegistryHost)]; ok {
			out = append(out, ref.String()+"@"+d)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkCycle fails when the project's edges, with the FROM images just
// read, close a cycle in the image graph.
func (r *Runner) checkCycle(ctx context.Context, j *job) error {
	projects := r.opts.Projects
	if projects == nil {
		var err error
		if projects, err = r.deps.Store.Projects(ctx); err != nil {
			return fmt.Errorf("reading projects: %w", err)
		}
	}
	from, err := r.deps.Store.FromImages(ctx)
	if err != nil {
		return err
	}
	from[j.project.Key()] = j.from
	if cycle := pipeline.NewGraph(projects, from).Cycle(j.project.Key()); cycle != nil {
		return fmt.Errorf("the image graph has a cycle: %s; remove a depends-on or FROM line to break it", strings.Join(cycle, " → "))
	}
	return nil
}
