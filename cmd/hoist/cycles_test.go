package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestDescribeCycles(t *testing.T) {
	ref := func(s string) pipeline.ImageRef {
		r, err := pipeline.ParseImageRef(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	proj := func(job string, deps ...string) pipeline.Project {
		p := pipeline.Project{AppID: "demo", JobID: job, Tag: "latest"}
		for _, d := range deps {
			p.DependsOn = append(p.DependsOn, ref(d))
		}
		return p
	}
	// a depends on b, b's last build was FROM a; c builds on a; d is apart.
	projects := []pipeline.Project{proj("a", "demo/b"), proj("b"), proj("c", "demo/a"), proj("d")}
	from := map[string][]pipeline.ImageRef{"demo/b:latest": {ref("demo/a")}}
	order, cycles := pipeline.Order(withFromParents(projects, from))
	lines, left := describeCycles(pipeline.NewGraph(projects, from), projects, order, cycles)

	wantLines := []string{"cycle in the image graph: demo/a:latest builds on demo/b:latest (depends-on), which builds on demo/a:latest (FROM); " +
		"an image cannot be built before itself: remove a depends-on or change a Dockerfile's FROM to break it"}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, u := range left {
		got[u.project.Key()] = u.reason
	}
	want := map[string]string{
		"demo/a:latest": "on a cycle: demo/a:latest builds on demo/b:latest (depends-on), which builds on demo/a:latest (FROM)",
		"demo/b:latest": "on a cycle: demo/a:latest builds on demo/b:latest (depends-on), which builds on demo/a:latest (FROM)",
		"demo/c:latest": "parent demo/a:latest is on a cycle",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("left out (-want +got):\n%s", diff)
	}
	if len(order) != 1 || order[0].Key() != "demo/d:latest" {
		t.Errorf("order = %v, want only demo/d", order)
	}
}
