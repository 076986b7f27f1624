package server

import (
	"context"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// waitReasons says, for each queued build of active (the queued and
// running builds, as Store.Active lists them), why it has not started:
// its project is already building, a parent image is being built, or all
// workers are busy. Reasons are by build ID; "" when none can be told.
func (s *Server) waitReasons(ctx context.Context, active []pipeline.Build) (map[int64]string, error) {
	out := map[int64]string{}
	running := map[string]pipeline.Build{} // by project
	activeBy := map[string]pipeline.Build{}
	nRunning := 0
	for _, b := range active {
		if b.Status == pipeline.StatusRunning {
			running[b.Project] = b
			nRunning++
		}
		if _, ok := activeBy[b.Project]; !ok || b.Status == pipeline.StatusRunning {
			activeBy[b.Project] = b
		}
	}
	var projects map[string]pipeline.Project // by image, read once when needed
	for _, b := range active {
		if b.Status != pipeline.StatusQueued {
			continue
		}
		if r, ok := running[b.Project]; ok {
			out[b.ID] = fmt.Sprintf("waits for build #%d of this project, which is running", r.Number)
			continue
		}
		if projects == nil {
			all, err := s.visibleStore().Projects(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing projects: %w", err)
			}
			projects = map[string]pipeline.Project{}
			for _, p := range all {
				projects[p.Image().String()] = p
			}
		}
		if reason := parentBusy(projects[imageOf(b.Project)], projects, activeBy); reason != "" {
			out[b.ID] = reason
			continue
		}
		if nRunning > 0 {
			out[b.ID] = fmt.Sprintf("waits for a free worker: %d build%s running", nRunning, plural(nRunning))
		}
	}
	return out, nil
}

// parentBusy says which of p's parent images is being built or queued.
func parentBusy(p pipeline.Project, projects map[string]pipeline.Project, active map[string]pipeline.Build) string {
	for _, ref := range p.DependsOn {
		parent, ok := projects[ref.String()]
		if !ok {
			continue
		}
		if b, ok := active[parent.Key()]; ok {
			return fmt.Sprintf("waits for its parent %s: build #%d is %s", parent.Key(), b.Number, b.Status)
		}
	}
	return ""
}

// imageOf is the image of a project key, as Image().String() spells it.
func imageOf(key string) string {
	ref, err := pipeline.ParseImageRef(key)
	if err != nil {
		return key
	}
	return ref.String()
}

func plural(n int) string {
	if n == 1 {
		return " is"
	}
	return "s are"
}
