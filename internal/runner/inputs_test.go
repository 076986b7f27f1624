package runner_test

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
)

// inputs reads the inputs of a build of p (id 0: a new one) from st, as
// its scheduler does when it starts the build; projects nil: the store's.
func inputs(t *testing.T, st sched.InputStore, p pipeline.Project, id int64, projects []pipeline.Project, force bool) pipeline.BuildInputs {
	t.Helper()
	in, err := sched.ReadInputs(t.Context(), st, p, id, pipeline.BuildInputs{Projects: projects, Force: force})
	must(t, err)
	return in
}
