package server

import (
	"fmt"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The API's JSON shapes. Times are RFC 3339 and left out when unknown.

type buildJSON struct {
	ID          int64              `json:"id"`
	Project     string             `json:"project"`
	Number      int                `json:"number"`
	Attempt     int                `json:"attempt,omitempty"` // when above 1
	Status      pipeline.Status    `json:"status"`
	Cause       string             `json:"cause,omitempty"`
	Commit      string             `json:"commit,omitempty"`
	FailedStage pipeline.StageName `json:"failed_stage,omitempty"`
	Reason      string             `json:"reason,omitempty"`
	Image       string             `json:"image,omitempty"`
	Digest      string             `json:"digest,omitempty"`
	Created     *time.Time         `json:"created,omitempty"`
	Started     *time.Time         `json:"started,omitempty"`
	Finished    *time.Time         `json:"finished,omitempty"`
	URL         string             `json:"url"`
}

type stageJSON struct {
	Name     pipeline.StageName `json:"name"`
	Status   pipeline.Status    `json:"status"`
	Started  *time.Time         `json:"started,omitempty"`
	Finished *time.Time         `json:"finished,omitempty"`
	Seconds  float64            `json:"seconds,omitempty"`
	Error    string             `json:"error,omitempty"`
	Log      string             `json:"log"` // the API path of its log
}

type imageJSON struct {
	Image     string     `json:"image"`
	Project   string     `json:"project"`
	Digest    string     `json:"digest"`
	Commit    string     `json:"commit,omitempty"`
	BuildID   int64      `json:"build_id,omitempty"`
	Delivered *time.Time `json:"delivered,omitempty"`
}

type originJSON struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

type projectJSON struct {
	Key             string      `json:"key"`
	Namespace       string      `json:"namespace"`
	Name            string      `json:"name"`
	Tag             string      `json:"tag"`
	RepoURL         string      `json:"repo_url"`
	Branch          string      `json:"branch"`
	Path            string      `json:"path"`
	Dockerfile      string      `json:"dockerfile"`
	Context         string      `json:"context"`
	DependsOn       []string    `json:"depends_on"`
	Email           string      `json:"email,omitempty"`
	PrebuildScript  string      `json:"prebuild_script,omitempty"`
	PrebuildContext string      `json:"prebuild_context,omitempty"`
	Origin          *originJSON `json:"origin,omitempty"` // the index entry; absent when registered by API or UI
	ReadOnly        bool        `json:"read_only"`
	Disabled        bool        `json:"disabled"` // its entry left the index: not built
	Trusted         bool        `json:"trusted"`  // an admin marked it (hoist project trust): its scripts run on the host
	URL             string      `json:"url"`
	LastBuild       *buildJSON  `json:"last_build,omitempty"`
	Delivered       *imageJSON  `json:"delivered,omitempty"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// projectPath is the path segment naming a project in URLs: "ns/name", or
// "ns/name:tag" when the tag is not latest; "library/name" without a
// namespace.
func projectPath(key string) string {
	ref, err := pipeline.ParseImageRef(key)
	if err != nil {
		return key
	}
	ns := ref.Namespace
	if ns == "" {
		ns = pipeline.LibraryNamespace
	}
	if ref.Tag == pipeline.DefaultTag {
		return ns + "/" + ref.Name
	}
	return ns + "/" + ref.Name + ":" + ref.Tag
}

// buildURL is the build's page in the UI: /p/{ns}/{name}/builds/{n}.
func buildURL(b pipeline.Build) string {
	return fmt.Sprintf("/p/%s/builds/%d", projectPath(b.Project), b.Number)
}

func toBuildJSON(b pipeline.Build) *buildJSON {
	return &buildJSON{
		ID: b.ID, Project: b.Project, Number: b.Number, Attempt: attemptOrZero(b.Attempt), Status: b.Status, Cause: b.Cause,
		Commit: b.Commit, FailedStage: b.FailedStage, Reason: b.Reason, Image: b.Image, Digest: b.Digest,
		Created: timeOrNil(b.Created), Started: timeOrNil(b.Started), Finished: timeOrNil(b.Finished),
		URL: buildURL(b),
	}
}

// attemptOrZero is a build's attempt when above 1, and 0 (left out) for a
// build's first and only attempt.
func attemptOrZero(n int) int {
	if n > 1 {
		return n
	}
	return 0
}

func toStageJSON(st pipeline.Stage) stageJSON {
	return stageJSON{
		Name: st.Name, Status: st.Status, Error: st.Error,
		Started: timeOrNil(st.Started), Finished: timeOrNil(st.Finished),
		Seconds: st.Duration().Seconds(),
		Log:     fmt.Sprintf("/api/v1/builds/%d/stages/%s/log", st.BuildID, st.Name),
	}
}

func toImageJSON(img pipeline.DeliveredImage) *imageJSON {
	return &imageJSON{Image: img.Image, Project: img.Project, Digest: img.Digest, Commit: img.Commit,
		BuildID: img.BuildID, Delivered: timeOrNil(img.Delivered)}
}

func toProjectJSON(p pipeline.Project) *projectJSON {
	deps := make([]string, len(p.DependsOn))
	for i, d := range p.DependsOn {
		deps[i] = d.String()
	}
	out := &projectJSON{
		Key: p.Key(), Namespace: p.AppID, Name: p.JobID, Tag: p.Tag,
		RepoURL: pipeline.RedactURL(p.GitURL), Branch: p.GitBranch, Path: displayPath(p.GitPath), Dockerfile: p.TargetFile,
		Context: p.BuildContext, DependsOn: deps, Email: p.NotifyEmail,
		PrebuildScript: p.PrebuildScript, PrebuildContext: p.PrebuildContext,
		ReadOnly: p.FromIndex(), Disabled: p.Disabled, Trusted: p.Trusted, URL: "/p/" + projectPath(p.Key()),
	}
	if p.FromIndex() {
		out.Origin = &originJSON{File: p.Origin.File, Line: p.Origin.Line}
	}
	return out
}

// deliveredOf picks, from images newest first, the newest delivery of the
// project's own tag (not :rc or :test), else its newest delivery.
func deliveredOf(p pipeline.Project, images []pipeline.DeliveredImage) *imageJSON {
	if img := deliveredImage(p, images); img != nil {
		return toImageJSON(*img)
	}
	return nil
}
