package storetest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

func testFromImages(t *testing.T, s pipeline.Store) {
	got, err := s.FromImages(ctx(t))
	must(t, "FromImages", err)
	if len(got) != 0 {
		t.Errorf("FromImages of an empty store = %v", got)
	}
	a, _ := pipeline.ParseImageRef("centos/centos:7")
	b, _ := pipeline.ParseImageRef("busybox")
	must(t, "SetFromImages", s.SetFromImages(ctx(t), "x/y:1", []pipeline.ImageRef{a, b}))
	must(t, "SetFromImages", s.SetFromImages(ctx(t), "x/z:1", nil))
	must(t, "SetFromImages", s.SetFromImages(ctx(t), "x/y:1", []pipeline.ImageRef{b, a}))
	got, err = s.FromImages(ctx(t))
	must(t, "FromImages", err)
	want := map[string][]pipeline.ImageRef{"x/y:1": {b, a}, "x/z:1": nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromImages = %v, want %v", got, want)
	}
}

func testIdentity(t *testing.T, s pipeline.Store) {
	b1 := create(t, s, "a/x:1")
	b2 := create(t, s, "a/x:1")
	must(t, "SetIdentity", s.SetIdentity(ctx(t), b1.ID, "a/x:1", "id1", nil))
	must(t, "SetIdentity", s.SetIdentity(ctx(t), b2.ID, "a/x:1", "id1", nil))
	if _, err := s.DeliveredWithIdentity(ctx(t), "a/x:1", "id1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("DeliveredWithIdentity before any delivery: %v, want ErrNotFound", err)
	}
	for _, b := range []pipeline.Build{b1, b2} {
		b.Status, b.Digest = pipeline.StatusSucceeded, "sha256:1"
		must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b))
	}
	got, err := s.DeliveredWithIdentity(ctx(t), "a/x:1", "id1")
	must(t, "DeliveredWithIdentity", err)
	if got.ID != b2.ID {
		t.Errorf("DeliveredWithIdentity = build %d, want the newest, %d", got.ID, b2.ID)
	}
	if _, err := s.DeliveredWithIdentity(ctx(t), "a/x:1", "other"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("DeliveredWithIdentity of another identity: %v, want ErrNotFound", err)
	}
	if f, err := s.Forced(ctx(t), b1.ID); err != nil || f {
		t.Errorf("Forced before SetForce = %v, %v", f, err)
	}
	must(t, "SetForce", s.SetForce(ctx(t), b1.ID))
	b3 := create(t, s, "a/x:1")
	must(t, "SetForce", s.SetForce(ctx(t), b3.ID))
	must(t, "SetIdentity", s.SetIdentity(ctx(t), b3.ID, "a/x:1", "id3", nil))
	for _, id := range []int64{b1.ID, b3.ID} {
		if f, err := s.Forced(ctx(t), id); err != nil || !f {
			t.Errorf("Forced(%d) = %v, %v; want true", id, f, err)
		}
	}
	if err := s.SetForce(ctx(t), 9999); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("SetForce of no build: %v, want ErrNotFound", err)
	}
}

func testLastDelivered(t *testing.T, s pipeline.Store) {
	if _, err := s.LastDelivered(ctx(t), "a/x:1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("LastDelivered of a project without builds: %v, want ErrNotFound", err)
	}
	base, _ := pipeline.ParseImageRef("a/base:1")
	lib, _ := pipeline.ParseImageRef("busybox")
	deliver := func(identity string, from []pipeline.ImageRef) pipeline.Build {
		b := create(t, s, "a/x:1")
		must(t, "SetIdentity", s.SetIdentity(ctx(t), b.ID, "a/x:1", identity, from))
		b.Status, b.Commit, b.Digest = pipeline.StatusSucceeded, "c"+identity, "sha256:"+identity
		must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b))
		return b
	}
	b1 := deliver("id1", []pipeline.ImageRef{base, lib})
	failed := create(t, s, "a/x:1")
	must(t, "SetIdentity", s.SetIdentity(ctx(t), failed.ID, "a/x:1", "id2", nil))
	failed.Status = pipeline.StatusFailed
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), failed))
	skipped := create(t, s, "a/x:1")
	skipped.Status, skipped.Digest = pipeline.StatusSkipped, b1.Digest
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), skipped))
	got, err := s.LastDelivered(ctx(t), "a/x:1")
	must(t, "LastDelivered", err)
	if got.Build.ID != b1.ID || got.Build.Commit != "cid1" || got.Identity != "id1" || !reflect.DeepEqual(got.From, []pipeline.ImageRef{base, lib}) {
		t.Errorf("LastDelivered = build %d, commit %q, identity %q, from %v; want build %d, cid1, id1, [%s %s]",
			got.Build.ID, got.Build.Commit, got.Identity, got.From, b1.ID, base, lib)
	}
	b3 := deliver("id3", nil)
	if got, err := s.LastDelivered(ctx(t), "a/x:1"); err != nil || got.Build.ID != b3.ID || got.Identity != "id3" || got.From != nil {
		t.Errorf("LastDelivered after a delivery with no FROM image = build %d, %q, %v, %v; want build %d, id3, no FROM image", got.Build.ID, got.Identity, got.From, err, b3.ID)
	}
	// A delivered build without an identity (forced only, or from before
	// identities recorded their FROM images) tells nothing.
	b4 := create(t, s, "a/x:1")
	must(t, "SetForce", s.SetForce(ctx(t), b4.ID))
	b4.Status, b4.Digest = pipeline.StatusSucceeded, "sha256:4"
	must(t, "UpdateBuild", s.UpdateBuild(ctx(t), b4))
	if _, err := s.LastDelivered(ctx(t), "a/x:1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("LastDelivered when the newest delivery has no identity: %v, want ErrNotFound", err)
	}
	if _, err := s.LastDelivered(ctx(t), "a/other:1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("LastDelivered of another project: %v, want ErrNotFound", err)
	}
}

func testClaimIDSkipQueued(t *testing.T, s pipeline.Store) {
	a1, _ := enqueue(t, s, "a/x:1")
	b1, _ := enqueue(t, s, "b/y:1")
	must(t, "SetQueuedCause", s.SetQueuedCause(ctx(t), b1.ID, "newest"))
	got, err := s.ClaimID(ctx(t), b1.ID, pipeline.Lease{}, at(7, 8))
	must(t, "ClaimID", err)
	if got.ID != b1.ID || got.Status != pipeline.StatusRunning || got.Cause != "newest" {
		t.Errorf("ClaimID = %+v", got)
	}
	if _, err := s.ClaimID(ctx(t), b1.ID, pipeline.Lease{}, at(7, 8)); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("ClaimID of a running build: %v, want ErrNotFound", err)
	}
	b2, _ := enqueue(t, s, "b/y:1")
	if _, err := s.ClaimID(ctx(t), b2.ID, pipeline.Lease{}, at(7, 8)); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("ClaimID while its project runs: %v, want ErrNotFound", err)
	}
	ok, err := s.SkipQueued(ctx(t), a1.ID, "parent b/y:1 failed", at(9, 0))
	must(t, "SkipQueued", err)
	if !ok {
		t.Error("SkipQueued of a queued build = false")
	}
	if ok, _ := s.SkipQueued(ctx(t), a1.ID, "again", at(9, 0)); ok {
		t.Error("SkipQueued of a skipped build = true")
	}
	stored, err := s.Build(ctx(t), a1.ID)
	must(t, "Build", err)
	if stored.Status != pipeline.StatusSkipped || stored.Reason != "parent b/y:1 failed" || !stored.Finished.Equal(at(9, 0)) {
		t.Errorf("skipped build = %+v", stored)
	}
}
