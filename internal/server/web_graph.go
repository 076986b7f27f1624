package server

import (
	"context"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// rebuildPlan is what rebuilds when the project with key changes ("if this
// changes, these rebuild"): the project's descendants in the image graph,
// in build order, without the project itself. note names the projects whose
// FROM lines are not known because they never built.
func (s *Server) rebuildPlan(ctx context.Context, key string, projects []pipeline.Project) (steps []pipeline.PlanStep, note string, err error) {
	from, err := s.deps.Store.FromImages(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("reading the image graph: %w", err)
	}
	g := pipeline.NewGraph(projects, from)
	all, err := g.Plan(map[string]string{key: "this project"})
	if err != nil {
		note = err.Error()
	}
	for _, st := range all {
		if st.Key != key {
			steps = append(steps, st)
		}
	}
	unknown := 0
	for _, p := range projects {
		if !g.FromKnown(p.Key()) {
			unknown++
		}
	}
	if unknown > 0 && note == "" {
		note = fmt.Sprintf("FROM lines are known only for projects that built: %d of %d never did, so only their depends-on counts.", unknown, len(projects))
	}
	return steps, note, nil
}

// trigger queues a build of key, forced when force is "true" or "1".
func trigger(ctx context.Context, q Queue, key, cause, force string) (pipeline.Build, bool, error) {
	if force != "true" && force != "1" {
		return q.Trigger(ctx, key, cause)
	}
	return q.TriggerForced(ctx, key, cause+" (forced)")
}
