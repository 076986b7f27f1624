package pipeline

import (
	"context"
	"errors"
)

// ErrNotFinished is returned when rebuilding a build that has not ended.
var ErrNotFinished = errors.New("build has not finished")

// ErrBusy is returned when a request must wait for a queued build: a
// rebuild while the project has a build queued.
var ErrBusy = errors.New("a build of the project is queued")

// BuildPins keeps the commit a queued build must check out instead of its
// branch's head: a rebuild of an earlier build builds that build's commit.
type BuildPins interface {
	// PinCommit makes build id check out commit (a full SHA). ErrNotFound
	// for no such build.
	PinCommit(ctx context.Context, id int64, commit string) error
	// PinnedCommit is the commit PinCommit set for build id, "" for none.
	PinnedCommit(ctx context.Context, id int64) (string, error)
}
