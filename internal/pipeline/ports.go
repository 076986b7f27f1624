package pipeline

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned by stores and registries when the thing asked for
// does not exist.
var ErrNotFound = errors.New("not found")

// Source fetches git repositories.
type Source interface {
	// Checkout clones url at branch (a branch, a tag or a commit SHA) into
	// dir, which must not exist yet, and returns the full commit SHA. It never
	// prompts for credentials. Progress goes to log. Safe for concurrent use
	// with different dirs.
	Checkout(ctx context.Context, url, branch, dir string, log io.Writer) (commit string, err error)
}

// BuildSpec is what the engine builds.
type BuildSpec struct {
	// Workspace is the absolute path of the build's checkout: the folder
	// an executor hands to its builder (a local engine reads it here, a
	// remote builder gets a copy). ContextDir, and a Dockerfile outside
	// the context, lie inside it; a build that would reach outside is
	// refused. Empty: ContextDir is the workspace.
	Workspace  string
	ContextDir string            // absolute path of the build context, inside Workspace
	Dockerfile string            // path of the Dockerfile relative to ContextDir, "/"-separated; it may lie outside ("../x") only if the caller allowed it, and never outside Workspace
	Tags       []string          // full references to tag the result with
	Labels     map[string]string // labels added to the image
	// LabelsWhenPushed lets the executor add Labels to the image's copy
	// in the registry when it pushes one of Tags, rather than with a
	// build step: its own image may lack them (InspectImage of a tag
	// shows them all the same).
	LabelsWhenPushed bool
	BuildArgs        map[string]string
	// From pins base images: a name as a Dockerfile's FROM writes it
	// ("ns/name:tag") → the registry reference with digest
	// ("host/ns/name@sha256:…") that FROM must build on, whatever else
	// the name resolves to. The executor fetches it from the registry.
	From map[string]string
}

// Builder builds images.
type Builder interface {
	// Build builds spec and returns the image ID. The build output goes to
	// log as plain text lines. A failing Dockerfile step returns an error
	// whose message is the engine's own ("The command '/bin/sh -c false'
	// returned a non-zero code: 1").
	Build(ctx context.Context, spec BuildSpec, log io.Writer) (imageID string, err error)
}

// ImagePusher pushes a locally tagged image to its registry.
type ImagePusher interface {
	// Push pushes ref (host/repo:tag) and returns the manifest digest the
	// registry stored ("sha256:…").
	Push(ctx context.Context, ref string, log io.Writer) (digest string, err error)
}

// ImagePuller fetches registry images for containers.
type ImagePuller interface {
	// Pull fetches ref (host/repo@digest or host/repo:tag) from its
	// registry, so that containers start from ref without waiting for it;
	// progress goes to log.
	Pull(ctx context.Context, ref string, log io.Writer) error
}

// ImageConfig is the part of an image's configuration checks look at.
type ImageConfig struct {
	ID           string
	Entrypoint   []string
	Cmd          []string
	User         string
	WorkingDir   string
	Env          []string
	Labels       map[string]string
	ExposedPorts []string // "8080/tcp"
	Volumes      []string // "/data"
	Size         int64    // bytes: the engine's (uncompressed) from InspectImage, the compressed layers' sum from RemoteConfig
	Digest       string   // the registry manifest digest, when known
}

// ImageInspector reads an image's configuration.
type ImageInspector interface {
	// InspectImage returns the configuration of a local image.
	InspectImage(ctx context.Context, ref string) (ImageConfig, error)
}

// RunSpec describes a container to run.
type RunSpec struct {
	Image  string
	Cmd    []string // empty: the image's own
	Env    []string
	Labels map[string]string
	// StayUp is how long a container that has not exited yet must keep
	// running to count as started; it is then killed (no grace period).
	StayUp time.Duration
	// Offline runs it with no network but its own loopback, for what
	// needs none: the engine then sets none up, which costs dockerd a
	// process of its own (libnetwork's hook) for every container. An
	// executor whose containers always have a network may ignore it.
	Offline bool
}

// RunResult is how a container run ended.
type RunResult struct {
	Exited   bool // false: still running after StayUp, then killed
	ExitCode int
}

// ContainerRunner runs containers.
type ContainerRunner interface {
	// Run creates and starts a container, waits until it exits or has stayed
	// up for spec.StayUp, copies its output to log, and removes it whatever
	// happens (also when ctx is cancelled).
	Run(ctx context.Context, spec RunSpec, log io.Writer) (RunResult, error)
	// RemoveContainersOf force-removes every container created from image
	// (for example by a user's test script), but the ones whose IDs are in
	// except, and returns how many it removed.
	RemoveContainersOf(ctx context.Context, image string, except ...string) (int, error)
}

// Engine is everything the pipeline needs from a container engine.
type Engine interface {
	Builder
	ImagePusher
	ImagePuller
	ImageInspector
	ContainerRunner
}

// EngineLoss is an optional capability of an Engine, checked with a type
// assertion: telling a stage that failed because the engine went away
// (stopped or restarted, its connection broken) from one that failed on
// its own, and waiting for the engine to come back. The runner then runs
// the stage again instead of failing the build. Safe for concurrent use.
type EngineLoss interface {
	// EngineLost reports whether err, which a stage using the engine
	// failed with, came from losing the engine; it may ask the engine.
	EngineLost(ctx context.Context, err error) bool
	// AwaitEngine waits until the engine answers again, or ctx ends.
	AwaitEngine(ctx context.Context) error
}

// Registry performs registry-side operations.
type Registry interface {
	// Tag makes dst (host/repo:tag) point at the manifest src
	// (host/repo@digest or host/repo:tag) refers to, without pulling or
	// uploading layers when both are in the same registry, and returns the
	// digest of dst.
	Tag(ctx context.Context, src, dst string) (digest string, err error)
	// Digest returns the manifest digest ref points at, ErrNotFound if none.
	Digest(ctx context.Context, ref string) (string, error)
}

// RepoConfigReader reads the per-repository cccp.yml.
type RepoConfigReader interface {
	// ReadRepoConfig looks for cccp.yml, .cccp.yml, cccp.yaml or .cccp.yaml
	// in dir (an absolute path inside the checkout at root) and parses it.
	// found is false when there is none. A file that leads outside root is
	// refused. Errors carry file:line:col.
	ReadRepoConfig(root, dir string) (cfg RepoConfig, found bool, err error)
}

// ScriptSpec is a script to run.
type ScriptSpec struct {
	Script  string   // absolute path of the script
	Dir     string   // working directory
	Env     []string // added to a minimal environment
	Timeout time.Duration
	// Workspace is the absolute path of the checkout Script and Dir lie
	// in. A sandboxed runner gives the script this folder (and nothing
	// else of the host) to read and write; "" for runners on the host.
	Workspace string
	// JoinContainer is a running container (Containers.StartContainer's
	// id) whose network namespace a sandboxed script shares, so that it
	// reaches that container on localhost; "": its own network.
	JoinContainer string
	// Image is the image a sandboxed script runs in, used when the engine
	// has it, else pulled; "": the runner's own (the toolbox). ImageFrom
	// says where it was named ("app/cccp.yml:3:17"), for errors.
	Image     string
	ImageFrom string
	// EngineAccess gives the script the container engine (its socket
	// mounted, DOCKER_HOST set): root-equivalent on the engine's host, so
	// only for scripts of trusted projects.
	EngineAccess bool
}

// Limits bound what one sandboxed container may use. A zero field is the
// runner's default.
type Limits struct {
	Memory int64   // bytes, swap included
	CPUs   float64 // CPUs' worth of time
	PIDs   int64   // processes and threads
}

// ScriptRunner runs user scripts (prebuild, test-script) on the host.
type ScriptRunner interface {
	// RunScript runs spec, with its output going to log. A non-zero exit,
	// a timeout or a script that cannot start are errors that say which.
	RunScript(ctx context.Context, spec ScriptSpec, log io.Writer) error
}

// TestSpec is what the test stage tests.
type TestSpec struct {
	Image  string // the :test reference, registry included
	Digest string // its manifest digest; "" while Pushed is set
	// Pushed, when set, waits until Image is in the registry (the runner
	// pushes it beside the test stage) and returns its manifest digest,
	// or why the push failed, or ctx's cause. The checks that read the
	// registry's copy (the image's configuration and files, the structure
	// tests, autotests) wait for it; the ones that run the image from the
	// executor's own copy (starts, ports, the test-script) start at once,
	// with Built. Safe for concurrent use, any number of calls. nil:
	// Image is in the registry already, at Digest.
	Pushed func(ctx context.Context) (digest string, err error)
	// Built is the image's configuration as the executor has it
	// (ImageInspector.InspectImage right after the build), for the checks
	// that run the image before the push ends; used only with Pushed.
	Built ImageConfig
	// TargetFile is the absolute path of the Dockerfile in the checkout and
	// ContextDir that of the build context, for tests that build services
	// from the same Dockerfile (compose autotests).
	TargetFile string
	ContextDir string
	RepoRoot   string // absolute path of the checkout's root
	Dir        string // absolute path of the target file's folder in the checkout
	Config     RepoConfig
	HasRepo    bool // whether a cccp.yml was found
	Env        []string
	Project    Project
	Commit     string
	// Sandboxed says that the project is not trusted: its test-script runs
	// in the sandbox beside the image under test, not on the host.
	Sandboxed bool
	// Defer, when set, takes the removal of the container of the image
	// under test that the checks shared: Test hands it over as it ends
	// rather than wait for it (a running container's removal takes about
	// 0.15 s), and the caller runs it beside what follows and waits for
	// it before the build ends. nil: Test removes it before it returns.
	Defer func(remove func(context.Context) error)
}

// Tester runs the test stage: predefined checks and the project's own tests.
type Tester interface {
	// Test runs every check and test against spec.Image, writes a readable
	// report to log, removes every container it or a user script started,
	// and returns the results. err is for failures to run at all; failing
	// checks are results.
	Test(ctx context.Context, spec TestSpec, log io.Writer) ([]CheckResult, error)
}
