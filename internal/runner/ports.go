package runner

import (
	"context"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Recorder is the runner's port to the store: what it records of a build
// as the build runs, and the one read that must wait for the checkout
// (DeliveredWithIdentity: the identity is known only then). What else a
// build needs to know, its scheduler read when it started and hands it in
// pipeline.BuildInputs; the runner reads no table whole. Its methods are
// called from every running build at once.
type Recorder interface {
	BuildRecorder
	GraphRecorder
	ResultRecorder
}

// BuildRecorder records a build, its stages and their logs as it runs.
type BuildRecorder interface {
	// CreateBuild stores a build hoist run starts (Run) or skips (Skip).
	CreateBuild(ctx context.Context, b *pipeline.Build) error
	// UpdateBuild records the build's commit once checked out, and its end.
	UpdateBuild(ctx context.Context, b pipeline.Build) error
	// PutStage records a stage as it starts and ends.
	PutStage(ctx context.Context, s pipeline.Stage) error
	// AppendLog appends to a stage's log as it is written.
	AppendLog(ctx context.Context, buildID int64, stage pipeline.StageName, p []byte) error
}

// GraphRecorder records what a checkout found: the FROM images and the
// build's identity, and finds the delivered build of the same identity.
type GraphRecorder interface {
	SetFromImages(ctx context.Context, project string, images []pipeline.ImageRef) error
	SetIdentity(ctx context.Context, id int64, project, identity string, from []pipeline.ImageRef) error
	// DeliveredWithIdentity returns the newest succeeded build of project
	// with identity, or pipeline.ErrNotFound.
	DeliveredWithIdentity(ctx context.Context, project, identity string) (pipeline.Build, error)
}

// ResultRecorder records what the stages after the build found and made.
type ResultRecorder interface {
	RecordImage(ctx context.Context, img pipeline.DeliveredImage) error
	PutCheckResults(ctx context.Context, buildID int64, results []pipeline.CheckResult) error
	PutArtifact(ctx context.Context, a pipeline.Artifact) error
	PutScan(ctx context.Context, s *pipeline.Scan) error
	// Scans lists a project's scans, newest first, at most limit: the
	// previous one, which a new scan is compared with.
	Scans(ctx context.Context, project string, limit int) ([]pipeline.Scan, error)
}

// Deliveries lists the delivered images, for Rescan (which is no build
// and has no scheduler to read it).
type Deliveries interface {
	Images(ctx context.Context) ([]pipeline.DeliveredImage, error)
}
