package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.Reaper = (*Engine)(nil)

// Reap force-removes every container, then every network, then every image
// that carries all of labels, and counts them. Something removed meanwhile
// by someone else is not an error.
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
