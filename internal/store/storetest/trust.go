package storetest

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// testProjectTrust: a project starts untrusted with no limits of its own;
// SetTrusted and SetLimits change them, PutProject (an index re-read, an
// edit) keeps them whatever its Project says, and a missing project is
// ErrNotFound.
func testProjectTrust(t *testing.T, s pipeline.Store) {
	p, other := fullProject(), project("a", "other")
	p.Trusted, p.Limits = true, pipeline.Limits{Memory: 1, CPUs: 1, PIDs: 1} // not PutProject's to set
	must(t, "PutProject", s.PutProject(ctx(t), p))
	must(t, "PutProject", s.PutProject(ctx(t), other))
	if got, _ := s.Project(ctx(t), p.Key()); got.Trusted || got.Limits != (pipeline.Limits{}) {
		t.Errorf("a new project: trusted %v, limits %+v; want untrusted with no limits of its own", got.Trusted, got.Limits)
	}

	lim := pipeline.Limits{Memory: 2 << 30, CPUs: 1.5, PIDs: 512}
	must(t, "SetTrusted", s.SetTrusted(ctx(t), p.Key(), true))
	must(t, "SetLimits", s.SetLimits(ctx(t), p.Key(), lim))
	p.GitBranch, p.Trusted, p.Limits = "main", false, pipeline.Limits{}
	must(t, "PutProject again", s.PutProject(ctx(t), p))
	got, err := s.Project(ctx(t), p.Key())
	must(t, "Project", err)
	if !got.Trusted || got.Limits != lim || got.GitBranch != "main" {
		t.Errorf("after SetTrusted, SetLimits and PutProject: branch %q, trusted %v, limits %+v; want main, true, %+v", got.GitBranch, got.Trusted, got.Limits, lim)
	}
	all, err := s.Projects(ctx(t))
	must(t, "Projects", err)
	for _, q := range all {
		if want := q.Key() == p.Key(); q.Trusted != want || (q.Limits == lim) != want {
			t.Errorf("Projects: %s trusted %v, limits %+v", q.Key(), q.Trusted, q.Limits)
		}
	}

	must(t, "SetTrusted false", s.SetTrusted(ctx(t), p.Key(), false))
	must(t, "SetLimits zero", s.SetLimits(ctx(t), p.Key(), pipeline.Limits{}))
	if got, _ := s.Project(ctx(t), p.Key()); got.Trusted || got.Limits != (pipeline.Limits{}) {
		t.Errorf("after untrusting and clearing: trusted %v, limits %+v", got.Trusted, got.Limits)
	}
	mustNotFound(t, "SetTrusted of a missing project", s.SetTrusted(ctx(t), "a/missing:latest", true))
	mustNotFound(t, "SetLimits of a missing project", s.SetLimits(ctx(t), "a/missing:latest", lim))
}
