package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.Reaper = (*Engine)(nil)

// imagesBuilt holds the owners (ownedBuild) whose labels a build of this
// process gave an image: only those can have throw-away images (an
// autotest service's, say). Listing images is the engine's slowest list:
// seconds on an engine with thousands of images, each a build's, since the
// engine reads every image to filter them by label.
var imagesBuilt sync.Map // ownedBuild → struct{}

// ownedBuild is the instance and build labels selects, ok when it names
// both: what one build of one Hoist made.
func ownedBuild(labels map[string]string) (key [2]string, ok bool) {
	inst, build := labels[pipeline.LabelInstance], labels[pipeline.LabelBuild]
	return [2]string{inst, build}, inst != "" && build != ""
}

// Reap force-removes every container, then every network, then every image
// that carries all of labels, and counts them. Something removed meanwhile
// by someone else is not an error. When labels name one build (its
// instance and build labels), images are looked for only if a build of
// this process gave that build's labels to one (imagesBuilt): the images a
// build labels are only the ones it builds, and what a killed process left
// is reaped by instance when its data folder's next process starts.
func (e *Engine) Reap(ctx context.Context, labels map[string]string) (pipeline.Reaped, error) {
	var n pipeline.Reaped
	if len(labels) == 0 {
		return n, errors.New("reaping: no labels to select by")
	}
	f := labelFilters(labels)
	var errs []error
	cs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return n, fmt.Errorf("listing containers labelled %v: %w", labels, err)
	}
	for _, c := range cs.Items {
		_, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			n.Containers++
			e.release(c.ID)
		case !cerrdefs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("removing container %s: %w", short(c.ID), err))
		}
	}
	ns, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return n, errors.Join(append(errs, fmt.Errorf("listing networks labelled %v: %w", labels, err))...)
	}
	for _, nw := range ns.Items {
		_, err := e.cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			n.Networks++
		case !cerrdefs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("removing network %s: %w", nw.Name, err))
		}
	}
	key, oneBuild := ownedBuild(labels)
	if _, built := imagesBuilt.Load(key); oneBuild && !built {
		return n, errors.Join(errs...)
	}
	is, err := e.cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
	if err != nil {
		return n, errors.Join(append(errs, fmt.Errorf("listing images labelled %v: %w", labels, err))...)
	}
	for _, img := range is.Items {
		_, err := e.cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		switch {
		case err == nil:
			n.Images++
		case !cerrdefs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("removing image %s: %w", short(img.ID), err))
		}
	}
	if oneBuild && len(errs) == 0 {
		imagesBuilt.Delete(key)
	}
	return n, errors.Join(errs...)
}

// labelFilters selects what carries every one of labels.
func labelFilters(labels map[string]string) client.Filters {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	f := make(client.Filters)
	for _, k := range keys {
		f = f.Add("label", k+"="+labels[k])
	}
	return f
}
