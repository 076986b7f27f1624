package pipeline

// Origin says where a project came from: an index file and line, or "api".
type Origin struct {
	File string // index file path, empty for projects registered by API/UI
	Line int
}

// Project is one index entry: a git repository built into one image tag.
// Paths are cleaned and relative to the repository root (GitPath) or to
// GitPath (TargetFile, BuildContext), with "/" separators; PrebuildScript and
// PrebuildContext are relative to the repository root, as upstream has them.
type Project struct {
	ID              int // "id" in its index file
	AppID           string
	JobID           string
	Tag             string // desired-tag
	GitURL          string
	GitBranch       string
	GitPath         string // "" or "." is the repository root
	TargetFile      string
	BuildContext    string
	PrebuildScript  string
	PrebuildContext string
	DependsOn       []ImageRef
	NotifyEmail     string
	NotifySuccess   bool   // also notify when a build succeeds (Hoist's notify-success key)
	Schedule        string // cron spec or @descriptor for scheduled rebuilds; "" for none
	Origin          Origin
	Disabled        bool // its entry left the index: kept with its history, not built
	// Trusted and Limits are set by an admin (TrustStore), never by the
	// index or the API's editors: a trusted project's scripts run on the
	// host with engine access; Limits raise (or lower) the server's
	// default container limits for its builds, up to the server's maximum.
	Trusted bool
	Limits  Limits
}

// Image is the image this project delivers.
func (p Project) Image() ImageRef {
	ns := p.AppID
	if ns == LibraryNamespace {
		ns = ""
	}
	return ImageRef{Namespace: ns, Name: p.JobID, Tag: p.Tag}
}

// Key identifies a project: its image, "ns/name:tag". It is unique in an index
// because (app-id, job-id, desired-tag) is.
func (p Project) Key() string { return p.Image().String() }

// RepoConfig is the per-repository cccp.yml found beside the target file.
type RepoConfig struct {
	File       string // the base name it was read from: cccp.yml, .cccp.yml, cccp.yaml or .cccp.yaml
	JobID      string
	TestSkip   bool
	TestScript string // relative to the target file's folder
	// Checks are the project's check policies, by check id ("ports"), rule
	// ("lint/JSONArgsRecommended") or group ("lint", "structure-test"):
	// the "checks:" mapping of cccp.yml.
	Checks Policies
	// SizeBudget is the "size" check's budget in bytes ("size-budget:
	// 300MB"); 0: the server's default.
	SizeBudget int64
	// StructureTests are container-structure-test files relative to the
	// target file's folder ("structure-tests:"); nil: every *.cst.yaml
	// there.
	StructureTests []string
	// Autotest is the Docker Hub compose test file relative to the target
	// file's folder ("autotest:"); "": docker-compose.test.yml, or the one
	// *.test.yml, beside the target file.
	Autotest string
	// PrebuildImage and TestImage are the images the prebuild script and
	// the test-script run in ("prebuild-image:", "test-image:", Hoist's
	// own keys); no Ref: the toolbox, or the host for a trusted project.
	PrebuildImage ScriptImage
	TestImage     ScriptImage
}

// FromIndex reports whether the project comes from an index file, which is
// then its source of truth (read-only in the UI and API).
func (p Project) FromIndex() bool { return p.Origin.File != "" }
