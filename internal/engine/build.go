package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Build builds spec with the engine's classic builder and returns the image
// ID. The build output goes to log as plain text. A failing step returns an
// *EngineError whose message is the engine's own text.
func (e *Engine) Build(ctx context.Context, spec pipeline.BuildSpec, log io.Writer) (string, error) {
	id, err := e.build(ctx, spec, log)
	for try := 1; try < lostImageTries && err != nil && lostImage(err); try++ {
		// dockerd's classic builder looks for a cached step among every
		// image with the same parent, and for FROM scratch that is every
		// parentless image of the engine: one that any removal takes
		// between its list and its read fails the build ("unable to find
		// image"). Podman's cache lookup can likewise lose a layer an
		// image removal took. Another try with the cache as it is now
		// gets past it; on an engine where images come and go all the
		// time, the next try can lose another one.
		fmt.Fprintf(log, "\n[hoist] the engine lost an image during the build (%v); building once more\n\n", err)
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(time.Duration(try) * lostImagePause):
		}
		id, err = e.build(ctx, spec, log)
	}
	return id, err
}

// lostImageTries bounds the builds of one Build that lose an image;
// lostImagePause is the pause before the second, and each next pause is
// longer by as much.
const (
	lostImageTries = 5
	lostImagePause = 250 * time.Millisecond
)

// lostImage reports whether err is the classic builder's transient
// "unable to find image" for an image it had just used, its "failed to get
// digest …: no such file or directory" for a cached step's image removed
// before the next step read it, its "No such image: sha256:…" for a cached
// step's image removed before the next step's container was made from it,
// or Podman's "layer not known" for a cached image whose layer a removal
// took. A Dockerfile names images by reference, never by a bare ID, so
// the last cannot be a user's missing FROM.
func lostImage(err error) bool {
	var ee *EngineError
	if !errors.As(err, &ee) {
		return false
	}
	m := ee.Message
	return strings.Contains(m, "unable to find image") ||
		strings.Contains(m, "failed to get digest") && strings.Contains(m, "no such file or directory") ||
		strings.Contains(m, "No such image: sha256:") ||
		strings.Contains(m, "checking if cached image exists") && strings.Contains(m, "layer not known")
}

// build runs one build of spec.
func (e *Engine) build(ctx context.Context, spec pipeline.BuildSpec, log io.Writer) (string, error) {
	if err := spec.CheckWorkspace(); err != nil {
		return "", err
	}
	if err := e.pinFrom(ctx, spec.From, log); err != nil {
		return "", err
	}
	if key, ok := ownedBuild(spec.Labels); ok {
		imagesBuilt.Store(key, struct{}{}) // for Reap: before any image exists
	}
	var later map[string]string // added when pushed (labelpush.go)
	if spec.LabelsWhenPushed && !e.podman && len(spec.Tags) > 0 {
		later, spec.Labels = spec.Labels, nil
	}
	bc, labels, err := newBuildContext(spec.ContextDir, spec.Dockerfile, spec.Labels)
	if err != nil {
		return "", fmt.Errorf("preparing build context %s: %w", spec.ContextDir, err)
	}
	tarball := bc.stream()
	defer tarball.Close()
	lim := e.limitsFor(ctx)
	e.log.Debug("building image", "context", spec.ContextDir, "dockerfile", bc.dockerfile, "tags", spec.Tags)
	res, err := e.cli.ImageBuild(ctx, tarball, client.ImageBuildOptions{
		Dockerfile: bc.dockerfile,
		Tags:       spec.Tags,
		// The others are in the Dockerfile sent (newBuildContext): as
		// build options, the classic builder commits a step for each.
		Labels:      labels,
		BuildArgs:   buildArgs(spec.BuildArgs),
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		// RUN steps are other people's code too: the limits of every
		// container (limitsFor), but for processes, which the classic
		// builder cannot bound.
		Memory:     lim.Memory,
		MemorySwap: lim.Memory,
		CPUPeriod:  100000,
		CPUQuota:   int64(lim.CPUs * 100000),
	})
	if err != nil {
		return "", fmt.Errorf("starting build of %s: %w", spec.ContextDir, err)
	}
	defer res.Body.Close()
	var id string
	err = decodeStream(res.Body, log, func(aux json.RawMessage) {
		var v struct{ ID string }
		if json.Unmarshal(aux, &v) == nil && v.ID != "" {
			id = v.ID
		}
	})
	if err != nil {
		return "", err
	}
	if id == "" {
		if id, err = e.builtID(ctx, spec.Tags); err != nil {
			return "", err
		}
	}
	if len(later) > 0 {
		e.leaveLabels(spec.Tags, id, later)
	}
	return id, nil
}

// builtID finds the ID of a finished build whose output carried none, by
// inspecting its first tag.
func (e *Engine) builtID(ctx context.Context, tags []string) (string, error) {
	if len(tags) == 0 {
		return "", fmt.Errorf("building: the engine reported no image ID and the build has no tag")
	}
	img, err := e.cli.ImageInspect(ctx, tags[0])
	if err != nil {
		return "", fmt.Errorf("inspecting built image %s: %w", tags[0], err)
	}
	return img.ID, nil
}

// buildArgs converts build arguments to the client's form.
func buildArgs(args map[string]string) map[string]*string {
	if len(args) == 0 {
		return nil
	}
	out := make(map[string]*string, len(args))
	for k, v := range args {
		out[k] = &v
	}
	return out
}

// pinFrom makes each FROM name of from resolve to the image its registry
// reference names: pulled and tagged locally as the name, so that the
// classic builder (which does not pull, PullParent false) builds on
// exactly that image.
func (e *Engine) pinFrom(ctx context.Context, from map[string]string, log io.Writer) error {
	names := make([]string, 0, len(from))
	for n := range from {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := e.PullAs(ctx, from[n], n, log); err != nil {
			return fmt.Errorf("FROM %s, pinned to %s: %w", n, from[n], err)
		}
	}
	return nil
}
