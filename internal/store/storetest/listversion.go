package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// ListVersionStore is a store whose list version says when the lists and
// pages made of projects, builds, delivered images, scans and FROM images
// may have changed.
type ListVersionStore interface {
	pipeline.Store
	ListVersion(ctx context.Context) (int64, error)
}

// RunListVersion runs the list version's part of the suite: every write
// a project's page or a list shows changes it, and reading does not. open
// must return a new, empty store for each call.
func RunListVersion(t *testing.T, open func(t *testing.T) ListVersionStore) {
	ctx := context.Background()
	s := open(t)
	version := func() int64 {
		t.Helper()
		v, err := s.ListVersion(ctx)
		if err != nil {
			t.Fatalf("ListVersion: %v", err)
		}
		return v
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	b := pipeline.Build{Project: "ns/a:latest", Status: pipeline.StatusQueued, Created: now}
	writes := []struct {
		what  string
		write func() error
	}{
		{"a project added", func() error {
			return s.PutProject(ctx, pipeline.Project{AppID: "ns", JobID: "a", Tag: "latest", GitURL: "u"})
		}},
		{"a project trusted", func() error { return s.SetTrusted(ctx, "ns/a:latest", true) }},
		{"a build created", func() error { return s.CreateBuild(ctx, &b) }},
		{"a build's status changed", func() error {
			b.Status, b.Started = pipeline.StatusRunning, now
			return s.UpdateBuild(ctx, b)
		}},
		{"an image delivered", func() error {
			return s.RecordImage(ctx, pipeline.DeliveredImage{Image: "reg/ns/a:latest", Project: "ns/a:latest", Digest: "sha256:1", BuildID: b.ID, Delivered: now})
		}},
		{"a scan stored", func() error {
			return s.PutScan(ctx, &pipeline.Scan{Project: "ns/a:latest", Image: "reg/ns/a:latest", Digest: "sha256:1", Cause: "test", Started: now, Finished: now})
		}},
		{"FROM images recorded", func() error {
			return s.SetFromImages(ctx, "ns/a:latest", []pipeline.ImageRef{{Namespace: "ns", Name: "base", Tag: "latest"}})
		}},
		{"a project removed", func() error { return s.DeleteProject(ctx, "ns/a:latest") }},
	}
	v := version()
	for _, w := range writes {
		must(w.write())
		next := version()
		if next == v {
			t.Errorf("after %s, the list version is still %d", w.what, v)
		}
		v = next
		_, err := s.Projects(ctx)
		must(err)
		_, err = s.LastBuilds(ctx)
		must(err)
		_, err = s.Images(ctx)
		must(err)
		if again := version(); again != v {
			t.Errorf("after reading the lists, the list version moved from %d to %d", v, again)
		}
	}
}
