package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/storetest"
)

// TestListCacheSeesOtherWriters: the lists one store keeps in memory
// change as soon as another store on the same file (another process)
// writes a project, a build or an image, and what callers do to the lists
// they get does not change what the next caller gets.
func TestListCacheSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hoist.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	keys := func() []string {
		t.Helper()
		ps, err := a.Projects(ctx)
		must(err)
		var out []string
		for _, p := range ps {
			out = append(out, p.Key())
		}
		return out
	}
	p := pipeline.Project{AppID: "ns", JobID: "x", Tag: "latest", DependsOn: []pipeline.ImageRef{{Namespace: "ns", Name: "base", Tag: "latest"}}}
	must(b.PutProject(ctx, p))
	if got := keys(); !slices.Equal(got, []string{"ns/x:latest"}) {
		t.Fatalf("projects = %v", got)
	}
	must(b.PutProject(ctx, pipeline.Project{AppID: "ns", JobID: "y", Tag: "latest"}))
	if got := keys(); !slices.Equal(got, []string{"ns/x:latest", "ns/y:latest"}) {
		t.Errorf("after another store added ns/y: projects = %v", got)
	}
	must(b.SetTrusted(ctx, "ns/y:latest", true))
	ps, err := a.Projects(ctx)
	must(err)
	if len(ps) != 2 || !ps[1].Trusted {
		t.Errorf("after another store trusted ns/y: %+v", ps[1])
	}
	ps[0].DependsOn[0].Name = "changed by a caller"
	ps[0].JobID = "changed"
	ps, err = a.Projects(ctx)
	must(err)
	if ps[0].JobID != "x" || ps[0].DependsOn[0].Name != "base" {
		t.Errorf("a caller's change reached the next caller: %+v", ps[0])
	}
	must(b.DeleteProject(ctx, "ns/x:latest"))
	if got := keys(); !slices.Equal(got, []string{"ns/y:latest"}) {
		t.Errorf("after another store deleted ns/x: projects = %v", got)
	}

	last, err := a.LastBuilds(ctx)
	must(err)
	if len(last) != 0 {
		t.Errorf("last builds of no builds = %v", last)
	}
	bd := pipeline.Build{Project: "ns/y:latest", Status: pipeline.StatusQueued}
	must(b.CreateBuild(ctx, &bd))
	last, err = a.LastBuilds(ctx)
	must(err)
	if last["ns/y:latest"].Status != pipeline.StatusQueued {
		t.Errorf("after another store queued a build: %v", last)
	}
	delete(last, "ns/y:latest") // a caller's change
	bd.Status = pipeline.StatusSucceeded
	must(b.UpdateBuild(ctx, bd))
	last, err = a.LastBuilds(ctx)
	must(err)
	if last["ns/y:latest"].Status != pipeline.StatusSucceeded {
		t.Errorf("after another store finished the build: %v", last)
	}

	images, err := a.Images(ctx)
	must(err)
	if len(images) != 0 {
		t.Errorf("images = %v", images)
	}
	must(b.RecordImage(ctx, pipeline.DeliveredImage{Image: "r/ns/y:latest", Project: "ns/y:latest", Digest: "sha256:1", BuildID: bd.ID, Delivered: time.Now()}))
	images, err = a.Images(ctx)
	must(err)
	if len(images) != 1 || images[0].Digest != "sha256:1" {
		t.Errorf("after another store delivered: images = %v", images)
	}
	must(b.RecordImage(ctx, pipeline.DeliveredImage{Image: "r/ns/y:latest", Project: "ns/y:latest", Digest: "sha256:2", BuildID: bd.ID, Delivered: time.Now()}))
	images, err = a.Images(ctx)
	must(err)
	if len(images) != 1 || images[0].Digest != "sha256:2" {
		t.Errorf("after another store delivered again: images = %v", images)
	}
}

func TestListVersionConformance(t *testing.T) {
	storetest.RunListVersion(t, func(t *testing.T) storetest.ListVersionStore {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
