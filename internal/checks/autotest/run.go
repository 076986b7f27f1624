package autotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The labels every container, network and built image of a run carries.
const (
	LabelRun     = "org.hoistci.autotest"         // the run's unique name
	LabelProject = "org.hoistci.autotest.project" // the project's key
	LabelService = "org.hoistci.autotest.service" // the compose service (containers)
)

const (
	defaultTimeout = 30 * time.Minute
	cleanupTimeout = 2 * time.Minute
	drainTimeout   = 5 * time.Second
	outputLimit    = 64 << 10 // bytes of sut output kept in the result
)

// Engine is what the autotest needs from the container engine.
type Engine interface {
	pipeline.Containers
	pipeline.Builder
	pipeline.ImagePuller
	pipeline.Reaper
}

// Runner runs Docker Hub autotests. It is safe for concurrent use.
type Runner struct {
	e Engine
}

// New returns a Runner that uses e.
func New(e Engine) *Runner { return &Runner{e: e} }

// Spec is one autotest to run.
type Spec struct {
	File       string           // absolute path of the compose file
	Image      string           // the image under test (a local image the engine has)
	Project    pipeline.Project // the project being tested (its Image().Repository() names it in compose files)
	TargetFile string           // absolute path of the project's Dockerfile
	ContextDir string           // absolute path of its build context
	Commit     string
	Timeout    time.Duration // bounds the whole run; 0 = 30 min
	RepoRoot   string        // the checkout root; build contexts must stay inside it
}

// location is the compose file relative to the checkout root.
func (s Spec) location() string {
	if s.RepoRoot != "" {
		if rel, err := filepath.Rel(s.RepoRoot, s.File); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(s.File)
}

// hubEnv is Docker Hub's build environment for spec: the only variables
// the compose file can use.
func hubEnv(spec Spec) map[string]string {
	repo, tag := spec.Image, ""
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	dockerfile := filepath.Base(spec.TargetFile)
	if rel, err := filepath.Rel(spec.ContextDir, spec.TargetFile); err == nil && spec.ContextDir != "" {
		dockerfile = filepath.ToSlash(rel)
	}
	return map[string]string{
		"IMAGE_NAME":      spec.Image,
		"DOCKER_REPO":     repo,
		"DOCKER_TAG":      tag,
		"SOURCE_COMMIT":   spec.Commit,
		"SOURCE_BRANCH":   spec.Project.GitBranch,
		"DOCKERFILE_PATH": dockerfile,
	}
}

// Run runs the autotest of spec and returns its result; progress and the
// output of every service, prefixed with its name, go to log. Whatever
// happens (ctx cancelled included), every container, the network and every
// image the run made are removed before Run returns.
func (r *Runner) Run(ctx context.Context, spec Spec, log io.Writer) (res pipeline.CheckResult) {
	start := time.Now()
	res = pipeline.CheckResult{
		ID:          "autotest",
		Group:       pipeline.GroupAutotest,
		Description: "Docker Hub autotest: the sut service of the compose test file exits 0",
		Blocking:    true,
		Location:    spec.location(),
	}
	out := &lockedWriter{w: log}
	defer out.close()
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	rn := &run{
		e:    r.e,
		spec: spec,
		log:  out,
		name: "hoist-autotest-" + randomHex(6),
		tail: &tailBuffer{limit: outputLimit},
	}
	rn.labels = map[string]string{LabelRun: rn.name, LabelProject: spec.Project.Key()}
	code, err := rn.do(runCtx)
	rn.cleanup(ctx)

	res.Duration = time.Since(start)
	res.Output = rn.tail.String()
	switch {
	case err != nil && ctx.Err() != nil:
		res.Status, res.Detail = pipeline.CheckFail, fmt.Sprintf("cancelled: %v", context.Cause(ctx))
	case err != nil && runCtx.Err() != nil:
		res.Status, res.Detail = pipeline.CheckFail, fmt.Sprintf("the autotest did not finish within %v (%v)", timeout, err)
	case err != nil:
		res.Status, res.Detail = pipeline.CheckFail, err.Error()
	case code == 0:
		res.Status, res.Detail = pipeline.CheckPass, "sut exited 0"
	default:
		res.Status, res.Detail = pipeline.CheckFail, fmt.Sprintf("sut exited %d", code)
	}
	fmt.Fprintf(out, "[autotest] %s: %s (%s)\n", res.Status, res.Detail, res.Duration.Round(time.Millisecond))
	return res
}

// run is one autotest run and what it made.
type run struct {
	e      Engine
	spec   Spec
	log    *lockedWriter
	name   string
	labels map[string]string
	tail   *tailBuffer

	mu      sync.Mutex
	streams sync.WaitGroup
	writers []*prefixWriter
	outputs map[string]*followed // by container ID; used by do's goroutine only
}

// followed is the output of one service's container, which a goroutine of
// its own follows to the log.
type followed struct {
	service        string
	stdout, stderr *countingWriter
	stop           context.CancelFunc // ends the follow
	done           chan struct{}      // closed when the follow has ended
	completed      bool
}

// do runs the test and returns sut's exit code.
func (rn *run) do(ctx context.Context) (int, error) {
	spec := rn.spec
	fmt.Fprintf(rn.log, "[autotest] %s: running service sut with %s (run %s)\n", spec.location(), spec.Image, rn.name)
	if _, err := inside(spec.RepoRoot, spec.File); err != nil {
		return 0, fmt.Errorf("%s: %w", spec.location(), err)
	}
	p, err := load(ctx, spec, hubEnv(spec), rn.name)
	if err != nil {
		return 0, err
	}
	for _, n := range p.notes {
		fmt.Fprintf(rn.log, "[autotest] note: %s\n", n)
	}
	if err := rn.prepare(ctx, p); err != nil {
		return 0, err
	}
	netID, err := rn.e.CreateNetwork(ctx, rn.name, rn.labels)
	if err != nil {
		return 0, fmt.Errorf("creating the test network: %w", err)
	}

	ids := map[string]string{}
	for _, svc := range p.services {
		for _, d := range svc.deps {
			if d.condition != "service_completed_successfully" {
				continue
			}
			fmt.Fprintf(rn.log, "[autotest] waiting for %s to complete\n", d.service)
			code, err := rn.e.WaitContainer(ctx, ids[d.service])
			if err != nil {
				return 0, fmt.Errorf("waiting for service %s: %w", d.service, err)
			}
			rn.complete(ctx, ids[d.service])
			if code != 0 {
				return 0, fmt.Errorf("service %s exited %d, and %s depends on it completing successfully", d.service, code, svc.name)
			}
		}
		id, err := rn.start(ctx, svc, netID)
		if err != nil {
			return 0, err
		}
		ids[svc.name] = id
	}
	sut := ids[sutName]
	code, err := rn.e.WaitContainer(ctx, sut)
	if err != nil {
		return 0, fmt.Errorf("waiting for sut: %w", err)
	}
	rn.complete(ctx, sut)
	return code, nil
}

// prepare decides the image of every service: the image under test, a
// local image (pulled when missing) or one it builds.
func (rn *run) prepare(ctx context.Context, p *plan) error {
	for _, svc := range p.services {
		switch {
		case svc.underTest:
			svc.image = rn.spec.Image
			fmt.Fprintf(rn.log, "[autotest] service %s runs the image under test %s\n", svc.name, svc.image)
		case svc.build != nil:
			tag := rn.name + "-" + tagComponent(svc.name) + ":build"
			svc.build.Tags = []string{tag}
			svc.build.Labels = pipeline.WithLabels(ctx, rn.labels)
			fmt.Fprintf(rn.log, "[autotest] building service %s from %s\n", svc.name, svc.build.ContextDir)
			w := rn.writer(svc.name+" (build)", nil)
			_, err := rn.e.Build(ctx, *svc.build, w)
			w.flush()
			if err != nil {
				return fmt.Errorf("service %s: building: %w", svc.name, err)
			}
			svc.image = tag
		default:
			ok, err := rn.e.ImageExists(ctx, svc.image)
			if err != nil {
				return fmt.Errorf("service %s: %w", svc.name, err)
			}
			if !ok {
				fmt.Fprintf(rn.log, "[autotest] service %s: pulling %s\n", svc.name, svc.image)
				if err := rn.e.Pull(ctx, svc.image, rn.writer(svc.name+" (pull)", nil)); err != nil {
					return fmt.Errorf("service %s: image %s is not available: %w", svc.name, svc.image, err)
				}
			}
		}
	}
	return nil
}

// start starts one service on the network and streams its output to the
// log (and, for sut, to the result).
func (rn *run) start(ctx context.Context, svc *service, netID string) (string, error) {
	cs := svc.spec
	cs.Image = svc.image
	cs.Network = netID
	labels := map[string]string{}
	for k, v := range cs.Labels {
		labels[k] = v
	}
	for k, v := range rn.labels {
		labels[k] = v
	}
	labels[LabelService] = svc.name
	cs.Labels = labels
	fmt.Fprintf(rn.log, "[autotest] starting service %s (%s) as %s\n", svc.name, cs.Image, strings.Join(cs.Aliases, ", "))
	id, err := rn.e.StartContainer(ctx, cs)
	if err != nil {
		return "", fmt.Errorf("starting service %s: %w", svc.name, err)
	}
	var tee io.Writer
	if svc.name == sutName {
		tee = rn.tail
	}
	fctx, stop := context.WithCancel(ctx)
	o := &followed{
		service: svc.name,
		stdout:  &countingWriter{w: rn.writer(svc.name, tee)},
		stderr:  &countingWriter{w: rn.writer(svc.name, tee)},
		stop:    stop,
		done:    make(chan struct{}),
	}
	if rn.outputs == nil {
		rn.outputs = map[string]*followed{}
	}
	rn.outputs[id] = o
	rn.streams.Add(1)
	go func() {
		defer rn.streams.Done()
		defer close(o.done)
		_ = rn.e.ContainerOutput(fctx, id, o.stdout, o.stderr, true)
	}()
	return id, nil
}

// complete makes sure that the log holds all the output of the container
// id, which exited, before the run goes on (and removes it in the end):
// it waits a little for the follow of its output to end, ends it, then
// reads the output again without following and logs what the follow
// missed. Nothing orders the follow before the container's end: on a
// loaded machine the engine can answer it once the container is gone, or
// end it early, and a short-lived sut's output was lost.
func (rn *run) complete(ctx context.Context, id string) {
	o := rn.outputs[id]
	if o == nil || o.completed {
		return
	}
	o.completed = true
	timer := time.NewTimer(drainTimeout)
	defer timer.Stop()
	select {
	case <-o.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	o.stop()
	<-o.done
	stdout := &skipWriter{w: o.stdout, skip: o.stdout.n}
	stderr := &skipWriter{w: o.stderr, skip: o.stderr.n}
	if err := rn.e.ContainerOutput(ctx, id, stdout, stderr, false); err != nil {
		fmt.Fprintf(rn.log, "[autotest] reading the output of service %s: %v\n", o.service, err)
	}
	o.stdout.w.flush()
	o.stderr.w.flush()
}

// writer returns a writer to the log that prefixes each line with name
// (and also copies to tee when not nil).
func (rn *run) writer(name string, tee io.Writer) *prefixWriter {
	w := &prefixWriter{out: rn.log, prefix: name + " | ", tee: tee}
	rn.mu.Lock()
	rn.writers = append(rn.writers, w)
	rn.mu.Unlock()
	return w
}

// cleanup removes everything the run made, with a context of its own so
// that a cancelled caller still cleans up. It runs after every call that
// creates something has returned, and finds what they made by the run's
// label, so that nothing is missed whenever a cancel landed (a container
// made by a call cut short by the cancel included).
func (rn *run) cleanup(parent context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cleanupTimeout)
	defer cancel()
	removed, err := rn.e.Reap(ctx, map[string]string{LabelRun: rn.name})
	// The removed containers end their output streams.
	done := make(chan struct{})
	go func() { rn.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
	}
	rn.mu.Lock()
	for _, w := range rn.writers {
		w.flush()
	}
	rn.mu.Unlock()
	fmt.Fprintf(rn.log, "[autotest] removed %d containers, %d networks and %d images\n", removed.Containers, removed.Networks, removed.Images)
	if err != nil {
		fmt.Fprintf(rn.log, "[autotest] cleanup failed: %v\n", err)
	}
}

var nonTag = regexp.MustCompile(`[^a-z0-9]+`)

// tagComponent makes a service name usable in an image repository.
func tagComponent(s string) string {
	s = strings.Trim(nonTag.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		return "service"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
