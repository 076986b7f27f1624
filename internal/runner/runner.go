// Package runner executes one build of one project: it walks the stages
// (checkout, prebuild, lint, build, test, scan, deliver), records each stage's status,
// times and log in the store as it goes, and reports progress to an
// observer. It talks to the outside only through the pipeline's interfaces.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Deps are the adapters a runner drives.
type Deps struct {
	Source pipeline.Source
	// Heads, when set, reads the project's branch head before the
	// checkout: a build of the commit its project last delivered, with the
	// same inputs, is then settled as unchanged without cloning (see
	// Runner.sameHead); nil: every build checks out.
	Heads    pipeline.HeadReader
	Engine   pipeline.Engine
	Registry pipeline.Registry
	Tester   pipeline.Tester
	Scripts  pipeline.ScriptRunner
	// Sandbox runs the scripts of projects Options.Trusted does not trust,
	// confined in a container with their checkout, and those of trusted
	// projects that name their own image (with the engine); nil: such
	// scripts fail, they never run through Scripts instead.
	Sandbox     pipeline.ScriptRunner
	RepoConfigs pipeline.RepoConfigReader
	Dockerfiles pipeline.FromReader // nil: FROM lines are not read
	Linter      pipeline.Linter     // nil: the lint stage is skipped
	Scanner     pipeline.Scanner    // nil: the scan stage is skipped
	Referrers   pipeline.Referrers  // nil: SBOMs are stored, not pushed
	// Reaper removes, when a build ends, every container, network and
	// throw-away image its stages made (found by the build's owner
	// labels), whatever stopped it; nil: each stage's own cleanup only.
	Reaper pipeline.Reaper
	// Store records the builds (see Recorder).
	Store Recorder
	// Deliveries are read by Rescan only; nil: Rescan finds nothing.
	Deliveries Deliveries
}

// Observer hears about a build as it runs. Calls for one build come from one
// goroutine at a time, but builds run concurrently: implementations must be
// safe for concurrent use.
type Observer interface {
	StageStarted(b pipeline.Build, stage pipeline.StageName)
	StageFinished(b pipeline.Build, stage pipeline.Stage)
	Output(b pipeline.Build, stage pipeline.StageName, p []byte)
}

// Options configure a runner.
type Options struct {
	RegistryHost    string        // where images are pushed, e.g. "127.0.0.1:5000"
	WorkDir         string        // where checkouts are made; each build gets a folder
	PrebuildTimeout time.Duration // default 30 min
	CheckoutTimeout time.Duration // default DefaultCheckoutTimeout
	KeepWorkspace   bool          // keep checkouts after the build, for debugging
	LogLimit        int64         // bytes kept of each stage's log; default DefaultLogLimit
	Observer        Observer      // nil: nobody
	Logger          *slog.Logger  // nil: discard
	// ArtifactDir, when set, also gets each build's artifacts (junit.xml,
	// sbom.cdx.json) as files, in ArtifactDir/<build id>/, for CI systems
	// that read them from disk.
	ArtifactDir string
	// Instance names this Hoist (one data folder): what a build makes in
	// the engine is labelled with it and the build's id, and the processes
	// its scripts start are marked with both (pipeline.WithOwner), so that
	// a restarted server finds and removes what a crash left behind. ""
	// marks nothing.
	Instance string
	// Trusted says whether a project's scripts may run through
	// Deps.Scripts (on the host, with what Hoist's user may do); the
	// others' run in Deps.Sandbox. nil trusts none.
	Trusted func(pipeline.Project) bool
	// Limits bound every container a build starts (and its RUN steps)
	// when its project has no limits of its own (Project.Limits); zero
	// fields: the engine's defaults. MaxLimits cap a project's own
	// limits: a higher one is lowered to it, and the build's log says so;
	// zero fields: no cap.
	Limits, MaxLimits pipeline.Limits
	// EngineWait is how long a stage that failed because the container
	// engine went away (it stopped or restarted) waits for the engine to
	// answer again before it runs again; default DefaultEngineWait.
	EngineWait time.Duration
	// TestWorkers bounds the builds past their build stage (in test, scan
	// or deliver) at once; 0: no bound. A build whose build stage ended
	// waits for one of these slots, then hands its scheduler's worker back
	// (pipeline.HandOff) so that the worker builds the next one meanwhile.
	TestWorkers int
}

// limits returns the limits of p's containers (its own, else Limits, at
// most MaxLimits) and a line for each of its own that was lowered.
func (r *Runner) limits(p pipeline.Project) (pipeline.Limits, []string) {
	return p.Limits.Or(r.opts.Limits).Clamp(r.opts.MaxLimits)
}

// scripts returns the runner for p's scripts and whether it is the
// sandbox, which is nil when none is wired: an untrusted project's scripts
// never fall back to the host.
func (r *Runner) scripts(p pipeline.Project) (pipeline.ScriptRunner, bool) {
	if r.opts.Trusted != nil && r.opts.Trusted(p) {
		return r.deps.Scripts, false
	}
	return r.deps.Sandbox, true
}

// DefaultCheckoutTimeout bounds the checkout when Options.CheckoutTimeout
// is not set: 10 minutes.
const DefaultCheckoutTimeout = 10 * time.Minute

// DefaultLogLimit is how much of each stage's log is kept when
// Options.LogLimit is not set: 50 MB.
const DefaultLogLimit = 50 << 20

// Runner runs builds. It is safe for concurrent use; callers must not run
// two builds of the same image repository at once (their NAME:test tags
// would race).
type Runner struct {
	deps  Deps
	opts  Options
	tests chan struct{} // the TestWorkers slots; nil: no bound
}

// New returns a Runner.
func New(deps Deps, opts Options) *Runner {
	if opts.PrebuildTimeout == 0 {
		opts.PrebuildTimeout = 30 * time.Minute
	}
	if opts.CheckoutTimeout <= 0 {
		opts.CheckoutTimeout = DefaultCheckoutTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LogLimit <= 0 {
		opts.LogLimit = DefaultLogLimit
	}
	if opts.EngineWait <= 0 {
		opts.EngineWait = DefaultEngineWait
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	// Scripts run in folders of the workspace: their paths must not depend
	// on the working directory.
	if abs, err := filepath.Abs(opts.WorkDir); err == nil {
		opts.WorkDir = abs
	}
	r := &Runner{deps: deps, opts: opts}
	if opts.TestWorkers > 0 {
		r.tests = make(chan struct{}, opts.TestWorkers)
	}
	return r
}

// job is the state one build carries from stage to stage.
type job struct {
	project pipeline.Project
	build   pipeline.Build
	in      pipeline.BuildInputs
	dir     string // checkout root
	paths   paths
	repo    pipeline.RepoConfig
	hasRepo bool
	imageID string
	// superseded is the image the build took its tag from, on an engine
	// that keeps images (pipeline.ImageReleaser): released beside the
	// test stage; released is closed once that is done.
	superseded string
	released   chan struct{}
	// deferred are the removals the test stage handed over
	// (TestSpec.Defer), run beside the stages after it; the build's end
	// waits for them, before the reap. Shared by the copies of the job
	// (engineBack).
	deferred *sync.WaitGroup

	digest  string                 // of NAME:test in the registry, once pushed
	built   pipeline.ImageConfig   // the image as the executor has it
	pushing *pushing               // the push of NAME:test, from the build stage's end
	from    []pipeline.ImageRef    // FROM images Hoist may build
	results []pipeline.CheckResult // lint and test results so far
	// unchanged is the skip reason when these inputs were delivered before,
	// by prev.
	unchanged string
	prev      pipeline.Build
	limits    pipeline.Limits // of every container the build starts
	lowered   []string        // the project's limits lowered to the server's maximum
	scanning  *earlyScan      // the scan started with the test stage
}

// stageFunc runs one stage. It returns errSkipped when the stage does not apply.
type stageFunc func(ctx context.Context, j *job, log io.Writer) error

var errSkipped = errors.New("stage skipped")

// skipReason is an errSkipped with the reason shown in the stage record.
type skipReason string

func (s skipReason) Error() string { return string(s) }
func (s skipReason) Is(target error) bool {
	return target == errSkipped
}

// Run records a new build of p and runs it once with in, as Execute does.
// The error is only for failures to record the build at all; a failing
// stage is a build with Status failed.
func (r *Runner) Run(ctx context.Context, p pipeline.Project, cause string, in pipeline.BuildInputs) (pipeline.Build, error) {
	b := pipeline.Build{
		Project: p.Key(), Status: pipeline.StatusRunning, Cause: cause,
		Created: now(), Started: now(),
	}
	if err := r.deps.Store.CreateBuild(ctx, &b); err != nil {
		return b, fmt.Errorf("recording build of %s: %w", p.Key(), err)
	}
	return r.Execute(ctx, p, b, in)
}

// Execute runs b, a build of p that is already stored (claimed from the
// queue, so running), through every stage and records how it ended. in
// are the inputs its scheduler read for it (pipeline.BuildInputs). When
// ctx is cancelled the build ends cancelled, with context.Cause(ctx) as its
// reason ("cancelled by alice"): the running stage's engine work stops
// with ctx and the later stages are skipped. The error is only for
// failures to record the end of the build.
func (r *Runner) Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, in pipeline.BuildInputs) (pipeline.Build, error) {
	j := &job{project: p, build: b, in: in, deferred: new(sync.WaitGroup)}
	j.build.Status = pipeline.StatusRunning
	if j.build.Started.IsZero() {
		j.build.Started = now()
	}
	ctx = pipeline.WithOwner(ctx, r.owner(b.ID))
	j.limits, j.lowered = r.limits(p)
	for _, note := range j.lowered {
		r.opts.Logger.Warn("a project's limit is above the server's maximum", "project", p.Key(), "build", b.ID, "limit", note)
	}
	ctx = pipeline.WithLimits(ctx, j.limits)
	defer r.cleanup(j)
	// The test stage's checks and the scan beside them read the image's
	// layers from the registry once, through files removed as the build
	// ends (pipeline.SharedLayers).
	layers := pipeline.NewLayerShare(r.opts.WorkDir)
	ctx = pipeline.WithLayerShare(ctx, layers)
	defer r.closeLayers(j, layers)
	stages := []namedStage{
		{pipeline.StageCheckout, r.checkout},
		{pipeline.StagePrebuild, r.prebuild},
		{pipeline.StageLint, r.lint},
		{pipeline.StageBuild, r.buildImage},
		{pipeline.StageTest, r.test},
		{pipeline.StageScan, r.scan},
		{pipeline.StageDeliver, r.deliver},
	}
	for i, s := range stages {
		if leaseLost(ctx) {
			r.stopScan(j)
			r.stopPush(j)
			return j.build, fmt.Errorf("build %d, attempt %d: %w", j.build.ID, j.build.Attempt, context.Cause(ctx))
		}
		if s.name == pipeline.StageTest {
			// The build stage ended: the rest of the build takes a test
			// slot and gives its worker back.
			defer r.enterTests(ctx)()
		}
		if ctx.Err() != nil {
			// Cancelled between stages: this one and the rest never start.
			j.build.Status, j.build.Reason = pipeline.StatusCancelled, cancelReason(ctx)
			r.skipStages(j, stages[i:], "the build was cancelled")
			break
		}
		if s.name == pipeline.StageTest {
			r.startScan(ctx, j)
		}
		err := r.runStage(ctx, j, s.name, s.run)
		if leaseLost(ctx) {
			r.stopScan(j)
			r.stopPush(j)
			return j.build, fmt.Errorf("build %d, attempt %d: %w", j.build.ID, j.build.Attempt, context.Cause(ctx))
		}
		if err == nil && j.unchanged != "" {
			j.build.Status, j.build.Reason = pipeline.StatusSkipped, j.unchanged
			r.skipStages(j, stages[i+1:], j.unchanged)
			break
		}
		if err == nil {
			continue
		}
		j.build.FailedStage = s.name
		j.build.Status, j.build.Reason = pipeline.StatusFailed, pipeline.RedactText(firstLine(err.Error()))
		skip := "an earlier stage failed"
		if ctx.Err() != nil {
			j.build.Status, j.build.Reason, skip = pipeline.StatusCancelled, cancelReason(ctx), "the build was cancelled"
		}
		r.skipStages(j, stages[i+1:], skip)
		break
	}
	if j.build.Status == pipeline.StatusRunning {
		j.build.Status = pipeline.StatusSucceeded
	}
	r.stopScan(j) // before the reap: the scan's containers are the build's
	r.stopPush(j)
	j.deferred.Wait()
	r.reap(ctx, j)
	if j.released != nil {
		<-j.released
	}
	j.build.Finished = now()
	if err := r.deps.Store.UpdateBuild(context.WithoutCancel(ctx), j.build); err != nil {
		return j.build, fmt.Errorf("recording the end of build %d: %w", j.build.ID, err)
	}
	return j.build, nil
}

// enterTests waits for a test slot (Options.TestWorkers), then hands the
// build's worker back to its scheduler (pipeline.HandOff). It returns the
// func that frees the slot. When ctx ends first, the build ends cancelled
// without a slot and keeps its worker until then.
func (r *Runner) enterTests(ctx context.Context) (release func()) {
	release = func() {}
	if r.tests != nil {
		select {
		case r.tests <- struct{}{}:
			release = func() { <-r.tests }
		case <-ctx.Done():
			return release
		}
	}
	pipeline.HandOff(ctx)
	return release
}

// namedStage is a stage and the function that runs it.
type namedStage struct {
	name pipeline.StageName
	run  stageFunc
}

// skipStages records stages as skipped, with why.
func (r *Runner) skipStages(j *job, stages []namedStage, why string) {
	for _, s := range stages {
		r.putStage(j, pipeline.Stage{BuildID: j.build.ID, Name: s.name, Status: pipeline.StatusSkipped, Error: why})
	}
}

// leaseLost reports whether ctx was cancelled because another runner took
// the build (its lease expired): then nothing more of it is recorded here,
// the next attempt records it.
func leaseLost(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), pipeline.ErrLeaseLost)
}

// cancelReason says why ctx was cancelled, from its cause: "cancelled by
// alice" as it is, "server stopping" as "cancelled: server stopping", and a
// cause-less cancel as "cancelled".
func cancelReason(ctx context.Context) string {
	cause := context.Cause(ctx)
	switch {
	case cause == nil || cause == context.Canceled:
		return "cancelled"
	case cause == context.DeadlineExceeded:
		return "cancelled: timed out"
	}
	if msg := firstLine(cause.Error()); !strings.HasPrefix(msg, "cancelled") {
		return "cancelled: " + msg
	}
	return firstLine(cause.Error())
}

// Skip records a build of p that did not run, with the reason why.
func (r *Runner) Skip(ctx context.Context, p pipeline.Project, cause, reason string) (pipeline.Build, error) {
	t := now()
	b := pipeline.Build{Project: p.Key(), Status: pipeline.StatusSkipped, Cause: cause, Reason: reason, Created: t, Started: t, Finished: t}
	if err := r.deps.Store.CreateBuild(ctx, &b); err != nil {
		return b, fmt.Errorf("recording skipped build of %s: %w", p.Key(), err)
	}
	return b, nil
}

func (r *Runner) runStage(ctx context.Context, j *job, name pipeline.StageName, run stageFunc) error {
	st := pipeline.Stage{BuildID: j.build.ID, Name: name, Status: pipeline.StatusRunning, Started: now()}
	r.putStage(j, st)
	r.opts.Observer.StageStarted(j.build, name)
	b := j.build
	lw := newLogWriter(ctx, r.deps.Store, j.build.ID, name, r.opts.LogLimit, func(p []byte) { r.opts.Observer.Output(b, name, p) })
	saved := *j
	err := run(ctx, j, lw)
	for try := 1; r.engineBack(ctx, j, saved, name, err, try, lw); try++ {
		err = run(ctx, j, lw)
	}
	if lerr := lw.Close(); lerr != nil && err == nil {
		err = fmt.Errorf("writing the %s log: %w", name, lerr)
	}
	if leaseLost(ctx) {
		return err // the build's next attempt records this stage
	}
	st.Finished = now()
	switch {
	case errors.Is(err, errSkipped):
		st.Status, st.Error, err = pipeline.StatusSkipped, err.Error(), nil
	case err != nil && ctx.Err() != nil:
		st.Status, st.Error = pipeline.StatusCancelled, cancelReason(ctx)
		lw.note(fmt.Sprintf("\n%s cancelled: %s\n", name, st.Error))
		_ = lw.Close()
	case err != nil:
		st.Status, st.Error = pipeline.StatusFailed, pipeline.RedactText(err.Error())
		lw.note(fmt.Sprintf("\n%s failed: %s\n", name, st.Error))
		_ = lw.Close()
	default:
		st.Status = pipeline.StatusSucceeded
	}
	r.putStage(j, st)
	r.opts.Observer.StageFinished(j.build, st)
	return err
}

func (r *Runner) putStage(j *job, st pipeline.Stage) {
	if err := r.deps.Store.PutStage(context.Background(), st); err != nil {
		r.opts.Logger.Error("recording stage", "build", j.build.ID, "stage", st.Name, "err", err)
	}
}

// owner is who what a build (0: no build) makes belongs to.
func (r *Runner) owner(build int64) pipeline.Owner {
	return pipeline.Owner{Instance: r.opts.Instance, Build: build}
}

// workspace is the checkout folder of a build; a fresh one for each
// attempt after the first, as the lost attempt's runner may still be
// winding down in its own.
func (r *Runner) workspace(j *job) string {
	name := strconv.FormatInt(j.build.ID, 10)
	if j.build.Attempt > 1 {
		name += "." + strconv.Itoa(j.build.Attempt)
	}
	return filepath.Join(r.opts.WorkDir, name)
}

func now() time.Time { return time.Now().UTC() }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type nopObserver struct{}

func (nopObserver) StageStarted(pipeline.Build, pipeline.StageName)   {}
func (nopObserver) StageFinished(pipeline.Build, pipeline.Stage)      {}
func (nopObserver) Output(pipeline.Build, pipeline.StageName, []byte) {}
