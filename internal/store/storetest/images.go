package storetest

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

func testImages(t *testing.T, s pipeline.Store) {
	got, err := s.Images(ctx(t))
	must(t, "Images of an empty store", err)
	if len(got) != 0 {
		t.Errorf("Images of an empty store: %v", got)
	}
	img := func(ref string, build int64, delivered int64) pipeline.DeliveredImage {
		return pipeline.DeliveredImage{
			Image: "127.0.0.1:5000/" + ref, Project: ref, Digest: "sha256:" + ref,
			Commit: "c0ffee", BuildID: build, Delivered: at(delivered, 42),
		}
	}
	old, mid, last := img("a/x:latest", 1, 10), img("b/y:1", 2, 20), img("c/z:latest", 3, 30)
	for _, i := range []pipeline.DeliveredImage{mid, old, last} {
		must(t, "RecordImage", s.RecordImage(ctx(t), i))
	}
	got, err = s.Images(ctx(t))
	must(t, "Images", err)
	if d := diff([]pipeline.DeliveredImage{last, mid, old}, got); d != "" {
		t.Errorf("Images (-want +got):\n%s", d)
	}
	for _, i := range got {
		mustUTC(t, "image "+i.Image, i.Delivered)
	}

	again := img("a/x:latest", 4, 40)
	again.Digest, again.Commit = "sha256:new", "beef"
	must(t, "RecordImage again", s.RecordImage(ctx(t), again))
	got, err = s.Images(ctx(t))
	must(t, "Images", err)
	if d := diff([]pipeline.DeliveredImage{again, last, mid}, got); d != "" {
		t.Errorf("Images after a redelivery (-want +got):\n%s", d)
	}
}
