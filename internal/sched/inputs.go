package sched

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// InputStore is what a scheduler reads a build's inputs
// (pipeline.BuildInputs) from.
type InputStore interface {
	Projects(ctx context.Context) ([]pipeline.Project, error)
	FromImages(ctx context.Context) (map[string][]pipeline.ImageRef, error)
	Images(ctx context.Context) ([]pipeline.DeliveredImage, error)
	LastDelivered(ctx context.Context, project string) (pipeline.Delivered, error)
	Forced(ctx context.Context, id int64) (bool, error)
	PinnedCommit(ctx context.Context, id int64) (string, error)
}

// ReadInputs reads the inputs of a build of p as it starts, on top of
// what base already holds: the image graph (base.Projects and base.From,
// each read when nil), the delivered images, p's last delivery, and, for a
// stored build (id not 0), whether it is forced (base.Force forces it
// whatever the store says) and the commit it is pinned to.
func ReadInputs(ctx context.Context, st InputStore, p pipeline.Project, id int64, base pipeline.BuildInputs) (pipeline.BuildInputs, error) {
	in := base
	var err error
	if in.Projects == nil {
		if in.Projects, err = st.Projects(ctx); err != nil {
			return in, fmt.Errorf("reading projects: %w", err)
		}
	}
	if in.From == nil {
		if in.From, err = st.FromImages(ctx); err != nil {
			return in, err
		}
	}
	images, err := st.Images(ctx)
	if err != nil {
		return in, fmt.Errorf("reading delivered images: %w", err)
	}
	in.Delivered = pipeline.DeliveredByImage(images)
	last, err := st.LastDelivered(ctx, p.Key())
	switch {
	case err == nil:
		in.Last = &last
	case !errors.Is(err, pipeline.ErrNotFound):
		return in, err
	}
	if id == 0 {
		return in, nil
	}
	if !in.Force {
		if in.Force, err = st.Forced(ctx, id); err != nil {
			return in, err
		}
	}
	if in.Pin, err = st.PinnedCommit(ctx, id); err != nil {
		return in, err
	}
	return in, nil
}

// StoreInputs reads the inputs of hoist run's builds, which are not stored
// before they start, as each starts (Batch).
type StoreInputs struct {
	Store InputStore
	// Projects are every project, for the image graph; nil: the store's.
	Projects []pipeline.Project
	// Force builds even when a build with the same inputs was delivered.
	Force bool
}

// Inputs reads the inputs of a new build of p.
func (s StoreInputs) Inputs(ctx context.Context, p pipeline.Project) (pipeline.BuildInputs, error) {
	return ReadInputs(ctx, s.Store, p, 0, pipeline.BuildInputs{Projects: s.Projects, Force: s.Force})
}
