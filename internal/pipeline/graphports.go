package pipeline

import (
	"context"
	"strings"
	"time"
)

// GraphStore keeps what the image graph and build identity need beyond
// projects and builds: the FROM images each project's target file named at
// its last checkout, and the identity of each build.
type GraphStore interface {
	// SetFromImages replaces the FROM images recorded for project.
	SetFromImages(ctx context.Context, project string, images []ImageRef) error
	// FromImages returns the FROM images of every project that recorded
	// some, by project key. A project missing from the map never checked
	// out its target file.
	FromImages(ctx context.Context) (map[string][]ImageRef, error)
	// SetIdentity records the identity of build id (of project) and the
	// FROM images its checkout named, which the identity was computed with.
	SetIdentity(ctx context.Context, id int64, project, identity string, from []ImageRef) error
	// DeliveredWithIdentity returns the newest succeeded build of project
	// with identity, or ErrNotFound.
	DeliveredWithIdentity(ctx context.Context, project, identity string) (Build, error)
	// LastDelivered returns the newest succeeded build of project that
	// delivered an image, with the identity and FROM images recorded for
	// it; ErrNotFound when there is none, or when its FROM images were not
	// recorded.
	LastDelivered(ctx context.Context, project string) (Delivered, error)
	// SetForce marks build id to run even when its inputs are unchanged.
	SetForce(ctx context.Context, id int64) error
	// Forced reports whether build id was marked with SetForce.
	Forced(ctx context.Context, id int64) (bool, error)
}

// Delivered is a delivered build and what its identity was computed from
// beyond its commit and its project's fields: the FROM images its
// checkout's target file named. A build of the same commit, paths and
// registry names the same FROM images, so it can compute its identity
// without a checkout.
type Delivered struct {
	Build    Build
	Identity string
	From     []ImageRef
}

// QueuePicker lets a dispatcher choose which queued build to claim.
type QueuePicker interface {
	// ClaimID marks the build with id running with Started = now and held
	// by lease if it is still queued, its retry backoff has passed and its
	// project has no running build, and returns it; ErrNotFound otherwise.
	// A zero lease never expires (LeaseStore).
	ClaimID(ctx context.Context, id int64, lease Lease, now time.Time) (Build, error)
	// SkipQueued marks the build with id skipped with reason if it is still
	// queued, and reports whether it was.
	SkipQueued(ctx context.Context, id int64, reason string, now time.Time) (bool, error)
	// SetQueuedCause replaces the cause of the build with id if it is still
	// queued (latest-only: the newest request's cause is kept).
	SetQueuedCause(ctx context.Context, id int64, cause string) error
}

// UnchangedPrefix starts the reason of a build skipped because a build with
// the same inputs was already delivered.
const UnchangedPrefix = "unchanged: "

// Unchanged reports whether b was skipped because its inputs were already
// delivered: the image it would build is in place.
func (b Build) Unchanged() bool {
	return b.Status == StatusSkipped && strings.HasPrefix(b.Reason, UnchangedPrefix)
}

// FromRef turns the image of a FROM line into the index reference it names,
// when it could be an image Hoist builds: one without a registry host, or
// on registryHost (Hoist's own registry). "ns/name" means "ns/name:latest";
// "library/x" is "x". Images pinned by digest, on other registries or with
// deeper paths are not (ok false).
func FromRef(image, registryHost string) (ImageRef, bool) {
	if strings.Contains(image, "@") {
		return ImageRef{}, false
	}
	if first, rest, ok := strings.Cut(image, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		if registryHost == "" || !strings.EqualFold(first, registryHost) {
			return ImageRef{}, false
		}
		image = rest
	}
	ref, err := ParseImageRef(image)
	if err != nil {
		return ImageRef{}, false
	}
	return ref, true
}

// FromReader reads the images the FROM lines of a Dockerfile build on.
type FromReader interface {
	// FromImages returns the base image of every stage of the Dockerfile at
	// path (an absolute path), as written after ARG substitution, leaving
	// out "scratch" and references to earlier stages.
	FromImages(path string) ([]string, error)
}
