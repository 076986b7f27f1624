package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// testPins: a pinned commit is read back, survives SetForce and
// SetIdentity, and a build without one has none.
func testPins(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:1")
	other := create(t, s, "a/x:1")
	commit := strings.Repeat("c", 40)
	must(t, "PinCommit", s.PinCommit(ctx(t), b.ID, commit))
	must(t, "SetForce", s.SetForce(ctx(t), b.ID))
	must(t, "SetIdentity", s.SetIdentity(ctx(t), b.ID, "a/x:1", "id1", nil))
	if got, err := s.PinnedCommit(ctx(t), b.ID); err != nil || got != commit {
		t.Errorf("PinnedCommit = %q, %v; want %q", got, err, commit)
	}
	if forced, err := s.Forced(ctx(t), b.ID); err != nil || !forced {
		t.Errorf("Forced = %v, %v after pinning; want true", forced, err)
	}
	if got, err := s.PinnedCommit(ctx(t), other.ID); err != nil || got != "" {
		t.Errorf("PinnedCommit of an unpinned build = %q, %v; want none", got, err)
	}
	if err := s.PinCommit(ctx(t), other.ID+1000, commit); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("PinCommit of no build: %v, want ErrNotFound", err)
	}
}
