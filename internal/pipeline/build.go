package pipeline

import "time"

// Status is the state of a build or a stage.
type Status string

// The statuses a build or stage moves through.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCancelled Status = "cancelled"
)

// Done reports whether s is final.
func (s Status) Done() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusSkipped || s == StatusCancelled
}

// StageName names a pipeline stage.
type StageName string

// The stages of a build, in order.
const (
	StageCheckout StageName = "checkout"
	StagePrebuild StageName = "prebuild"
	StageLint     StageName = "lint"
	StageBuild    StageName = "build"
	StageTest     StageName = "test"
	StageScan     StageName = "scan"
	StageDeliver  StageName = "deliver"
)

// Stages lists the stages in the order they run.
var Stages = []StageName{StageCheckout, StagePrebuild, StageLint, StageBuild, StageTest, StageScan, StageDeliver}

// Build is one run of a project's pipeline.
type Build struct {
	ID          int64
	Project     string // Project.Key()
	Number      int    // 1, 2, … per project
	Attempt     int    // 1, then 2, 3, … when a runner lost it and another took it again
	Status      Status
	Cause       string
	Commit      string
	FailedStage StageName
	Reason      string // why it failed or was skipped
	Image       string // the final reference, registry included
	Digest      string // the delivered manifest digest
	Created     time.Time
	Started     time.Time
	Finished    time.Time
}

// Stage is one stage of a build.
type Stage struct {
	BuildID  int64
	Name     StageName
	Status   Status
	Started  time.Time
	Finished time.Time
	Error    string
}

// Duration is how long the stage ran, zero if it has not finished.
func (s Stage) Duration() time.Duration {
	if s.Started.IsZero() || s.Finished.IsZero() {
		return 0
	}
	return s.Finished.Sub(s.Started)
}

// DeliveredImage is an image tag Hoist delivered.
type DeliveredImage struct {
	Image     string // full reference, registry included: host/ns/name:tag
	Project   string // Project.Key()
	Digest    string
	Commit    string
	BuildID   int64
	Delivered time.Time
}
