package pipeline

import (
	"context"
	"io"
	"time"
)

// ProjectStore keeps projects. Implementations are safe for concurrent use.
type ProjectStore interface {
	// PutProject inserts or replaces the project with p's key.
	PutProject(ctx context.Context, p Project) error
	// Project returns the project with key, or ErrNotFound.
	Project(ctx context.Context, key string) (Project, error)
	// Projects lists every project, ordered by key.
	Projects(ctx context.Context) ([]Project, error)
}

// BuildStore keeps builds and their stages.
type BuildStore interface {
	// CreateBuild stores b as a new build, setting b.ID and b.Number (one
	// more than the project's last build).
	CreateBuild(ctx context.Context, b *Build) error
	// UpdateBuild replaces the stored build with b.ID (not its attempt or
	// lease). When b.Attempt is not 0 and the stored build has moved on to
	// another attempt (its lease expired and it was queued again) or failed
	// because that attempt lost its lease, nothing changes and the error wraps ErrLeaseLost:
	// a runner that lost its build never overwrites the next attempt.
	UpdateBuild(ctx context.Context, b Build) error
	// Build returns the build with id, or ErrNotFound.
	Build(ctx context.Context, id int64) (Build, error)
	// Builds lists a project's builds, newest first, at most limit (0: all).
	Builds(ctx context.Context, project string, limit int) ([]Build, error)
	// PutStage inserts or replaces the stage (BuildID, Name).
	PutStage(ctx context.Context, s Stage) error
	// Stages lists a build's stages in pipeline order.
	Stages(ctx context.Context, buildID int64) ([]Stage, error)
}

// BuildPages reads a project's builds by their numbers, for pages of a
// history of any length: each answer costs about the same however many
// builds the project has (keyset pagination: a page starts below the
// number the previous one ended at, so builds added meanwhile, which get
// higher numbers, neither repeat nor shift what the next page holds).
type BuildPages interface {
	// BuildNumber returns build number n of project, or ErrNotFound.
	BuildNumber(ctx context.Context, project string, n int) (Build, error)
	// BuildsBefore lists project's builds numbered below before (0: from
	// the newest), newest first, at most limit (0: all).
	BuildsBefore(ctx context.Context, project string, before, limit int) ([]Build, error)
}

// LogStore keeps stage logs durably, as they are written.
type LogStore interface {
	// AppendLog appends p to the log of (buildID, stage).
	AppendLog(ctx context.Context, buildID int64, stage StageName, p []byte) error
	// OpenLog reads the log of (buildID, stage) from byte offset on, as it is
	// stored now. An empty log is not an error.
	OpenLog(ctx context.Context, buildID int64, stage StageName, offset int64) (io.ReadCloser, error)
}

// LogMark says when a log reached a length: the bytes before End were
// stored by At.
type LogMark struct {
	End int64
	At  time.Time // zero when the store did not record it
}

// LogTimer tells when each part of a log was stored, for per-line
// timestamps: a line arrived when the first mark past its start was stored.
type LogTimer interface {
	// LogMarks lists the marks of the log of (buildID, stage) in order of
	// End, one per stored piece (an append may store several). An empty or
	// missing log has none.
	LogMarks(ctx context.Context, buildID int64, stage StageName) ([]LogMark, error)
}

// ImageStore keeps the record of delivered images.
type ImageStore interface {
	// RecordImage stores a delivery, replacing an earlier one of the same
	// image reference.
	RecordImage(ctx context.Context, img DeliveredImage) error
	// Images lists delivered images, newest first.
	Images(ctx context.Context) ([]DeliveredImage, error)
}

// Store is every store together, as one backend provides them.
type Store interface {
	ProjectStore
	ProjectDeleter
	TrustStore
	BuildStore
	BuildPages
	LastBuilds
	LogStore
	LogTimer
	ImageStore
	UserStore
	NamespaceStore
	QueueStore
	CommitQueue
	GraphStore
	BuildPins
	QueuePicker
	LeaseStore
	HoldStore
	CheckStore
	ScanStore
	ArtifactStore
	Close() error
}
