package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
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
		if len(images) > 0 {
			fmt.Fprintf(log, "FROM %s\n", strings.Join(images, ", "))
		}
	}
	if err := r.recordGraph(ctx, j); err != nil {
		return err
	}
	id := r.identity(j)
	if err := r.settle(ctx, j, id, log); err != nil || j.unchanged == "" {
		return err
	}
	// The delivered build had these inputs, so its checkout read these FROM
	// images: record them with it, which a build from before they were
	// recorded lacks, so that the next build of its commit needs no checkout.
	return r.deps.Store.SetIdentity(ctx, j.prev.ID, j.project.Key(), id, j.from)
}

// identity is the hash of what a build of j is made from: its commit, its
// project's paths and prebuild inputs, and the delivered digests of its
// parents (j.from and depends-on).
func (r *Runner) identity(j *job) string {
	p := j.project
	parents := parentDigests(j, r.opts.RegistryHost)
	h := sha256.New()
	for _, s := range []string{"hoist-build-identity/1", j.build.Commit, p.GitPath, p.TargetFile, p.BuildContext, p.PrebuildScript, p.PrebuildContext} {
		fmt.Fprintf(h, "%d:%s\n", len(s), s)
	}
	for _, s := range parents {
		fmt.Fprintf(h, "parent %s\n", s)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// settle records id as the build's identity, with j.from, and, unless the
// build is forced, sets j.unchanged when a build with that identity was
// delivered and its tag still points at that digest.
func (r *Runner) settle(ctx context.Context, j *job, id string, log io.Writer) error {
	p := j.project
	if err := r.deps.Store.SetIdentity(ctx, j.build.ID, p.Key(), id, j.from); err != nil {
		return err
	}
	fmt.Fprintf(log, "build identity %s\n", id)
	if j.in.Force {
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
	j.prev = prev
	j.build.Image, j.build.Digest = prev.Image, prev.Digest
	fmt.Fprintf(log, "%s; %s is %s\n", j.unchanged, final, d)
	return nil
}

// sameHead runs before the checkout. When the project's branch still
// points at the commit of its last delivered build, that build's checkout
// said everything a new one would: the same commit, target file and
// registry make the same FROM images, so the identity is computed from
// those without cloning. When it is the delivered build's identity, the
// build is settled as identify would settle it after a checkout (a no-op
// sweep clones nothing), and sameHead reports true. Otherwise, or when
// anything is uncertain (no Deps.Heads, a forced build, a head that cannot
// be read, the tag moved), it leaves j as it was and the checkout runs.
func (r *Runner) sameHead(ctx context.Context, j *job, log io.Writer) (bool, error) {
	p := j.project
	if r.deps.Heads == nil || r.deps.Registry == nil || p.GitBranch == "" {
		return false, nil
	}
	if j.in.Force {
		return false, nil
	}
	if j.in.Last == nil {
		return false, nil
	}
	last := *j.in.Last
	if last.Build.Image != r.ref(j, p.Tag) || last.Build.Commit == "" {
		return false, nil // delivered to another registry, or by a build without a commit
	}
	head, err := r.deps.Heads.Head(ctx, p.GitURL, p.GitBranch)
	if err != nil || !pipeline.SameCommit(head, last.Build.Commit) {
		return false, nil // the checkout says what is wrong with the repository
	}
	if queued := j.build.Commit; queued != "" && !pipeline.SameCommit(queued, head) {
		return false, nil // the checkout says that the branch moved
	}
	queued, from := j.build.Commit, j.from
	j.build.Commit = last.Build.Commit
	if r.deps.Dockerfiles != nil {
		j.from = last.From
	}
	if id := r.identity(j); id != last.Identity {
		j.build.Commit, j.from = queued, from
		return false, nil
	}
	id := last.Identity
	fmt.Fprintf(log, "%s of %s is still at %s, which build #%d checked out: its inputs are known without a checkout\n",
		p.GitBranch, pipeline.RedactURL(p.GitURL), j.build.Commit, last.Build.Number)
	if len(j.from) > 0 {
		fmt.Fprintf(log, "FROM %s (as build #%d read them)\n", joinRefs(j.from), last.Build.Number)
	}
	if err := r.recordGraph(ctx, j); err != nil {
		return true, err
	}
	if err := r.settle(ctx, j, id, log); err != nil || j.unchanged != "" {
		return true, err
	}
	// Delivered, but the tag moved since: build it, from a checkout.
	j.build.Commit, j.from = queued, from
	return false, nil
}

// joinRefs lists refs separated by commas.
func joinRefs(refs []pipeline.ImageRef) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
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
// delivered (j.in.Delivered, in registryHost), sorted.
func parentDigests(j *job, registryHost string) []string {
	var out []string
	for _, ref := range parentRefs(j) {
		if img, ok := j.in.Delivered[ref.In(registryHost)]; ok {
			out = append(out, ref.String()+"@"+img.Digest)
		}
	}
	slices.Sort(out)
	return out
}

// recordGraph records j.from as the project's FROM images (when they
// changed) and fails when the project's edges with them close a cycle in
// the image graph.
func (r *Runner) recordGraph(ctx context.Context, j *job) error {
	key := j.project.Key()
	if r.deps.Dockerfiles != nil {
		if known, ok := j.in.From[key]; !ok || !slices.Equal(known, j.from) {
			if err := r.deps.Store.SetFromImages(ctx, key, j.from); err != nil {
				return err
			}
		}
	}
	return checkCycle(j)
}

// checkCycle fails when the project's edges, with the FROM images just
// read, close a cycle in the image graph of j's inputs.
func checkCycle(j *job) error {
	from := maps.Clone(j.in.From) // shared with other builds
	if from == nil {
		from = map[string][]pipeline.ImageRef{}
	}
	from[j.project.Key()] = j.from
	if cycle := pipeline.NewGraph(j.in.Projects, from).Cycle(j.project.Key()); cycle != nil {
		return fmt.Errorf("the image graph has a cycle: %s; remove a depends-on or FROM line to break it", strings.Join(cycle, " → "))
	}
	return nil
}
