package pipeline

import (
	"context"
	"io"
	"time"
)

// CheckStatus is the result of one check.
type CheckStatus string

// The results a check can have.
const (
	CheckPass CheckStatus = "pass"
	CheckFail CheckStatus = "fail"
	CheckWarn CheckStatus = "warn"
	CheckNA   CheckStatus = "n/a"
)

// The groups check results belong to.
const (
	GroupCheck         = "check"          // the predefined checks every image gets
	GroupLint          = "lint"           // Dockerfile lint findings
	GroupTestScript    = "test-script"    // cccp.yml's test-script
	GroupStructureTest = "structure-test" // container-structure-test YAML files
	GroupAutotest      = "autotest"       // Docker Hub docker-compose.test.yml
)

// CheckResult is one check's outcome.
type CheckResult struct {
	ID          string // "ports", "lint/JSONArgsRecommended", "structure-test/tests/a.cst.yaml/echo works"
	Group       string // one of the Group constants
	Description string
	Status      CheckStatus
	Detail      string // why, in one or a few lines
	// Blocking: a failure of this check fails its stage and stops delivery.
	// A failing advisory check is reported, not fatal.
	Blocking bool
	Location string        // where it comes from: "Dockerfile:3:1", "tests/a.cst.yaml:12:5"
	Duration time.Duration // how long it ran
	Output   string        // what it printed, bounded (for the JUnit report)
}

// Failed reports whether r is a blocking failure.
func (r CheckResult) Failed() bool { return r.Blocking && r.Status == CheckFail }

// CheckPolicy says what a check's failure does for one project.
type CheckPolicy string

// The policies a project can give a check in cccp.yml.
const (
	PolicyBlocking CheckPolicy = "blocking" // a failure stops delivery
	PolicyAdvisory CheckPolicy = "advisory" // a failure is reported as a warning
	PolicyExclude  CheckPolicy = "exclude"  // the check does not run
)

// Apply applies a project's policies to results: a result whose ID, or
// whose ID's first segment ("lint" for "lint/X"), or whose Group has a
// policy gets it. An excluded check is left out; an advisory failure
// becomes a warning that does not block; a blocking one blocks. The most
// specific name wins.
func (p Policies) Apply(results []CheckResult) []CheckResult {
	out := results[:0:0]
	for _, r := range results {
		pol, ok := p.For(r)
		if !ok {
			out = append(out, r)
			continue
		}
		switch pol {
		case PolicyExclude:
			continue
		case PolicyAdvisory:
			r.Blocking = false
			if r.Status == CheckFail {
				r.Status = CheckWarn
			}
		case PolicyBlocking:
			r.Blocking = true
			if r.Status == CheckWarn && r.Group == GroupLint {
				r.Status = CheckFail
			}
		}
		out = append(out, r)
	}
	return out
}

// Policies are a project's check policies by check id or group.
type Policies map[string]CheckPolicy

// For returns the policy for r, if the project set one.
func (p Policies) For(r CheckResult) (CheckPolicy, bool) {
	if pol, ok := p[r.ID]; ok {
		return pol, true
	}
	for i := 0; i < len(r.ID); i++ {
		if r.ID[i] == '/' {
			if pol, ok := p[r.ID[:i]]; ok {
				return pol, true
			}
			break
		}
	}
	pol, ok := p[r.Group]
	return pol, ok
}

// Excluded reports whether the check or group id is excluded.
func (p Policies) Excluded(id string) bool { return p[id] == PolicyExclude }

// LintFinding is one finding of the Dockerfile linter.
type LintFinding struct {
	Rule        string // buildkit's rule name: "JSONArgsRecommended"
	Description string // what the rule is about
	Message     string // this finding
	URL         string // the rule's documentation
	File        string // the Dockerfile's path in the repository
	Line        int
	Column      int
}

// Linter lints Dockerfiles.
type Linter interface {
	// Lint checks the Dockerfile content (named file in messages) and
	// returns its findings in line order. A Dockerfile that does not parse
	// is an error that names file:line and what is wrong.
	Lint(ctx context.Context, file string, content []byte, buildArgs map[string]string) ([]LintFinding, error)
}

// LayerReader reads an image's layers from the registry, without an engine.
type LayerReader interface {
	// ReadLayers calls fn for each layer of ref (host/repo:tag or
	// host/repo@digest), base layer first, with the layer's uncompressed
	// tar stream. It stops at the first error fn returns.
	ReadLayers(ctx context.Context, ref string, fn func(index int, digest string, tar io.Reader) error) error
	// RemoteConfig reads ref's configuration from the registry. Size is
	// the sum of the compressed layers; Digest the manifest's.
	RemoteConfig(ctx context.Context, ref string) (ImageConfig, error)
}

// ContainerSpec describes a container to start in the background.
type ContainerSpec struct {
	Image string
	// Entrypoint replaces the image's when set; an empty non-nil slice
	// clears it.
	Entrypoint []string
	Cmd        []string // empty: the image's own
	Env        []string // KEY=value, added to the image's
	User       string
	WorkingDir string
	Network    string   // a network made by CreateNetwork; "": the default
	Aliases    []string // DNS names on Network
	Labels     map[string]string
	Privileged bool
}

// Containers runs containers in the background and manages their
// networks. Every method honours ctx. What StartContainer and
// CreateNetwork make carries ctx's owner labels (WithOwner) besides its
// own, and a call that ctx ends while the engine makes it removes what was
// made rather than lose its ID.
type Containers interface {
	// StartContainer creates and starts a container and returns its ID.
	StartContainer(ctx context.Context, spec ContainerSpec) (id string, err error)
	// WaitContainer waits for the container to exit and returns its status.
	WaitContainer(ctx context.Context, id string) (exitCode int, err error)
	// ContainerOutput copies what the container wrote so far to stdout and
	// stderr, separately; with follow it goes on until the container exits.
	ContainerOutput(ctx context.Context, id string, stdout, stderr io.Writer, follow bool) error
	// ProbePorts tries each TCP port once, from beside the container (in
	// its network namespace, as a helper container or a pod's sidecar
	// would, or by reading its sockets where the engine's host shows
	// them: Hoist's host never dials it), on the address its neighbours
	// reach it at, and returns those that accepted a connection. A
	// container that is not running is an error.
	ProbePorts(ctx context.Context, id string, ports []int) (open []int, err error)
	// RemoveContainer force-removes the container and its anonymous volumes.
	RemoveContainer(ctx context.Context, id string) error
	// RemoveImage removes a local image Hoist made (a service build);
	// not-found is not an error.
	RemoveImage(ctx context.Context, id string) error
	// CreateNetwork creates a private bridge network and returns its ID.
	CreateNetwork(ctx context.Context, name string, labels map[string]string) (id string, err error)
	// RemoveNetwork removes it; not-found is not an error.
	RemoveNetwork(ctx context.Context, id string) error
	// ImageExists reports whether ref is a local image.
	ImageExists(ctx context.Context, ref string) (bool, error)
}

// ImageReleaser removes a local image nothing needs any more: a build's
// engine has it when images stay there after their build (Docker,
// Podman), and the runner gives it the image a project's new build took
// its tag from.
type ImageReleaser interface {
	// ReleaseImage removes image id unless something still needs it (a
	// tag or a reference in another repository, a container, an image
	// built on it), and reports whether it did.
	ReleaseImage(ctx context.Context, id string) (removed bool, err error)
}

// Execer runs a command in a running container, beside its own process:
// cheaper than a container of its own. Executors that cannot leave it out.
type Execer interface {
	// Exec runs cmd (the whole command line: no entrypoint is added) in
	// the running container id, as its user, in its working directory
	// and with its environment, copies its output to log, and returns its
	// exit status. It returns once cmd exits or ctx ends; a command still
	// running then is left to the container's end.
	Exec(ctx context.Context, id string, cmd []string, log io.Writer) (exitCode int, err error)
}

// Package is one installed package found in an image.
type Package struct {
	Type     string // "deb", "apk", "rpm", "pypi", "npm", "gem", "golang"
	Name     string // as the ecosystem spells it
	Version  string
	Arch     string   // where the ecosystem has one
	Origin   string   // the source package, where known
	Licenses []string // as declared, where known
	PURL     string   // the package URL
	Location string   // the file it was read from: "/var/lib/dpkg/status"
}

// PackageUpdate is an update the image's own package manager offers.
type PackageUpdate struct {
	Name      string
	Installed string
	Available string
}

// Finding is one thing a scanner flags.
type Finding struct {
	Severity string // "high", "medium", "low", "info"
	ID       string // a rule or CVE id
	Message  string
	Location string
}

// ScanStatus is how one scanner ended.
type ScanStatus string

// The ends a scanner can have.
const (
	ScanOK    ScanStatus = "ok"
	ScanError ScanStatus = "error" // the scanner failed to run; Detail says why
	ScanNA    ScanStatus = "n/a"   // nothing to scan; Detail says why
)

// ScannerResult is what one scanner found in one image.
type ScannerResult struct {
	Scanner  string // "os-packages", "language-packages", "capabilities", "updates", "cve"
	Status   ScanStatus
	Detail   string
	Packages []Package       `json:",omitempty"`
	Updates  []PackageUpdate `json:",omitempty"`
	Findings []Finding       `json:",omitempty"`
	Raw      []byte          `json:",omitempty"` // an external scanner's own output (JSON)
}

// ScanReport is every scanner's result for one image.
type ScanReport struct {
	Image   string // the reference scanned, registry included
	Digest  string
	Results []ScannerResult
	SBOM    []byte // CycloneDX JSON
}

// Result returns the named scanner's result.
func (r ScanReport) Result(scanner string) (ScannerResult, bool) {
	for _, res := range r.Results {
		if res.Scanner == scanner {
			return res, true
		}
	}
	return ScannerResult{}, false
}

// ScanSpec is an image to scan.
type ScanSpec struct {
	Image   string // a reference the registry and the engine both know
	Digest  string
	Project Project
	// Local is whether the engine has the image, so scanners that run a
	// container (updates) can.
	Local bool
}

// Scanner inventories an image and builds its SBOM.
type Scanner interface {
	// Scan runs every scanner against spec.Image and writes what they find
	// to log. A scanner that fails is a result with ScanError, never a
	// missing one; err is only for failing to read the image at all.
	Scan(ctx context.Context, spec ScanSpec, log io.Writer) (ScanReport, error)
}

// Scan is one stored scan of an image.
type Scan struct {
	ID       int64
	Project  string // Project.Key()
	Image    string
	Digest   string
	BuildID  int64  // the build it ran in; 0 for a re-scan
	Cause    string // "build #3", "schedule weekly", "hoist scan"
	Started  time.Time
	Finished time.Time
	Report   ScanReport
}

// ScanStore keeps scans.
type ScanStore interface {
	// PutScan stores s as a new scan and sets s.ID.
	PutScan(ctx context.Context, s *Scan) error
	// Scans lists a project's scans, newest first, at most limit (0: all).
	Scans(ctx context.Context, project string, limit int) ([]Scan, error)
	// ScanOf returns the scan with id, or ErrNotFound.
	ScanOf(ctx context.Context, id int64) (Scan, error)
	// ScanOfBuild returns the scan that ran in build buildID, SBOM
	// included, or ErrNotFound.
	ScanOfBuild(ctx context.Context, buildID int64) (Scan, error)
}

// CheckStore keeps the check results of builds.
type CheckStore interface {
	// PutCheckResults replaces the results stored for buildID.
	PutCheckResults(ctx context.Context, buildID int64, results []CheckResult) error
	// CheckResults returns buildID's results in the order they were stored.
	CheckResults(ctx context.Context, buildID int64) ([]CheckResult, error)
}

// Artifact is a file a build produced: a JUnit report, an SBOM.
type Artifact struct {
	BuildID     int64
	Name        string // "junit.xml", "sbom.cdx.json"
	ContentType string
	Data        []byte
	Created     time.Time
}

// ArtifactStore keeps build artifacts.
type ArtifactStore interface {
	// PutArtifact stores a, replacing one of the same build and name.
	PutArtifact(ctx context.Context, a Artifact) error
	// Artifact returns one, or ErrNotFound.
	Artifact(ctx context.Context, buildID int64, name string) (Artifact, error)
	// Artifacts lists a build's artifacts without their data, by name.
	Artifacts(ctx context.Context, buildID int64) ([]Artifact, error)
}

// Referrer is an artifact in the registry that refers to an image.
type Referrer struct {
	Digest       string // the artifact's manifest digest
	ArtifactType string
	Size         int64
	Annotations  map[string]string
}

// Referrers attaches artifacts to images in a registry, the OCI 1.1 way.
type Referrers interface {
	// Attach pushes data (of mediaType) as an artifact of artifactType whose
	// subject is subject (host/repo@digest), through the referrers API or,
	// where the registry has none, the tag-schema fallback; it returns the
	// artifact manifest's digest.
	Attach(ctx context.Context, subject, artifactType, mediaType string, data []byte, annotations map[string]string) (string, error)
	// Referrers lists the artifacts referring to subject, of artifactType
	// ("" for all).
	Referrers(ctx context.Context, subject, artifactType string) ([]Referrer, error)
	// FetchArtifact returns the first layer of the artifact at
	// host/repo@digest.
	FetchArtifact(ctx context.Context, ref string) ([]byte, error)
}
