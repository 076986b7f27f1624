// Package checks is Hoist's test stage: the predefined checks every image
// gets, then the project's own tests. It runs containers through the
// pipeline's engine interfaces, reads the image's files from the registry
// through its layer reader (never running a shell in the image, so FROM
// scratch images are checked too) and runs user scripts through its script
// runner, so it works with any engine adapter.
package checks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/checks/autotest"
	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
)

// Engine is what the checks need from a container engine: containers run
// to their end. The image's configuration and files come from the
// registry (Deps.Layers), never from the engine's local store.
type Engine interface {
	pipeline.ContainerRunner
}

// Deps are the parts a Suite works with.
type Deps struct {
	Engine     Engine               // runs containers to their end
	Containers autotest.Engine      // background containers (ports, tests); an autotest's builds and pulls
	Layers     pipeline.LayerReader // the image's configuration and files, from the registry
	Scripts    pipeline.ScriptRunner
	// Sandbox runs the test-scripts of projects that are not trusted
	// (TestSpec.Sandboxed), beside the image under test; without it such
	// a test-script fails, and never runs through Scripts.
	Sandbox pipeline.ScriptRunner
}

// Options tune the checks.
type Options struct {
	// StayUp is the least a container that does not exit must stay up to
	// pass the "starts" check (default 1 s). It is watched for longer when
	// the other checks and the test-script, which share it, take longer.
	StayUp time.Duration
	// StartTimeout bounds the whole "starts" check (default 2 min).
	StartTimeout time.Duration
	// ScriptTimeout bounds the user's test-script (default 30 min).
	ScriptTimeout time.Duration
	// SizeBudget is the "size" check's budget in bytes (default 1 GiB); a
	// project's cccp.yml size-budget overrides it.
	SizeBudget int64
	// PortTimeout is how long each EXPOSEd TCP port has to accept a
	// connection (default 30 s).
	PortTimeout time.Duration
	// ScriptsBeside runs every test-script beside the image under test,
	// as an untrusted project's runs, trusted projects' too, and never
	// with the engine: for executors whose images the host cannot run or
	// reach and that have no engine to give a script, like Kubernetes'
	// pods.
	ScriptsBeside bool
}

// Suite runs the predefined checks and the user's tests. It implements
// pipeline.Tester.
type Suite struct {
	d       Deps
	scripts pipeline.ScriptRunner // d.Scripts, as user.go reads it
	opts    Options
}

var _ pipeline.Tester = (*Suite)(nil)

// New returns a Suite working with d.
func New(d Deps, opts Options) *Suite {
	if opts.StayUp == 0 {
		opts.StayUp = time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.ScriptTimeout == 0 {
		opts.ScriptTimeout = 30 * time.Minute
	}
	if opts.SizeBudget == 0 {
		opts.SizeBudget = 1 << 30
	}
	if opts.PortTimeout == 0 {
		opts.PortTimeout = 30 * time.Second
	}
	return &Suite{d: d, scripts: d.Scripts, opts: opts}
}

// run is one Test call: what every check may look at.
type run struct {
	s    *Suite
	spec pipeline.TestSpec
	cfg  pipeline.ImageConfig
	log  io.Writer
	// fs is the image's merged filesystem, nil when it could not be read
	// (fsErr says why) or no check needed it.
	fs      *imagefs.FS
	fsErr   error
	secrets *secretScan
	// target is the container of the image under test that starts,
	// ports and a sandboxed test-script share; nil without an engine for
	// background containers.
	target *target
	// othersDone is closed when every check but "starts", and the
	// test-script, are done: the end of the "starts" window.
	othersDone chan struct{}
}

// outcome is what a check function decides; the Suite fills in the rest.
type outcome struct {
	status pipeline.CheckStatus
	detail string
	output string // bounded
}

// check is one predefined check.
type check struct {
	id, description string
	needsFS         bool // reads the image's files
	// runsImage: it runs the image from the executor's copy and reads no
	// more of its configuration than the executor has (TestSpec.Built),
	// so it starts before the push ends.
	runsImage bool
	run       func(ctx context.Context, r *run) outcome
}

// predefined are the checks every image gets, in the order they run.
var predefined = []check{
	{"config", "the image has a CMD or an ENTRYPOINT, a USER that is not root, and descriptive labels", false, false, checkConfig},
	{"starts", "the container starts and exits 0, or stays up", false, true, checkStarts},
	{"ports", "every EXPOSEd TCP port accepts a connection", false, true, checkPorts},
	{"no-hard-coded-passwords", "no uid-0 account has an empty or hard-coded password in /etc/passwd or /etc/shadow", true, false, checkPasswords},
	{"override-cmd", "a replaced command (echo) runs, where the image has a shell", true, false, checkOverride},
	{"secrets", "no private keys, cloud access keys or .env files in any layer", true, false, checkSecrets},
	{"size", "the image is under its size budget", false, false, checkSize},
}

// Default policies: these checks block delivery when they fail; the other
// predefined checks are advisory. A project's cccp.yml overrides both.
var defaultPolicies = pipeline.Policies{
	"starts":                  pipeline.PolicyBlocking,
	"no-hard-coded-passwords": pipeline.PolicyBlocking,
	"secrets":                 pipeline.PolicyBlocking,
	"config":                  pipeline.PolicyAdvisory,
	"ports":                   pipeline.PolicyAdvisory,
	"override-cmd":            pipeline.PolicyAdvisory,
	"size":                    pipeline.PolicyAdvisory,
	UserScriptID:              pipeline.PolicyBlocking,
}

// IDs returns the ids of the predefined checks, in the order they run.
func IDs() []string {
	ids := make([]string, len(predefined))
	for i, c := range predefined {
		ids[i] = c.id
	}
	return ids
}

// excluded reports whether the project's policies exclude the check id of
// group, so that it must not run at all.
func excluded(p pipeline.Policies, id, group string) bool {
	pol, ok := p.For(pipeline.CheckResult{ID: id, Group: group})
	return ok && pol == pipeline.PolicyExclude
}

// applyPolicies gives each result the project's policy for it where it set
// one, else Hoist's default, else leaves it as its check made it.
func applyPolicies(results []pipeline.CheckResult, project pipeline.Policies) []pipeline.CheckResult {
	out := make([]pipeline.CheckResult, 0, len(results))
	for _, r := range results {
		one := []pipeline.CheckResult{r}
		if _, ok := project.For(r); ok {
			one = project.Apply(one)
		} else {
			one = defaultPolicies.Apply(one)
		}
		out = append(out, one...)
	}
	return out
}

// Test runs the predefined checks and cccp.yml's test-script at the same
// time, then the other user tests (the container-structure-test files,
// the Docker Hub autotest), and always removes the containers created
// from the image under test. The image's configuration is read from the
// registry by its reference (spec.Image, as pushed), and its files once,
// for every check that needs them, while the checks that run the image
// already run: no check needs a local copy of the image. With
// spec.Pushed, the checks that run the image and the test-script start
// at once, while the image is still being pushed, and the rest wait for
// the push; a failed push ends them all and is Test's error. With
// spec.Defer, the container the checks shared is removed after Test
// returns, by spec.Defer's caller. The log reads
// check by check in a fixed order, each with its own timing, whatever
// order they finished in. The results have the project's check
// policies (cccp.yml "checks:") applied over Hoist's defaults; excluded
// checks do not run.
func (s *Suite) Test(ctx context.Context, spec pipeline.TestSpec, log io.Writer) (results []pipeline.CheckResult, err error) {
	var handed []string // the container handed to spec.Defer
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		n, rerr := s.d.Engine.RemoveContainersOf(cctx, spec.Image, handed...)
		if n > 0 {
			fmt.Fprintf(log, "removed %d container(s) left by the tests\n", n)
		}
		if rerr != nil && err == nil {
			err = fmt.Errorf("removing test containers: %w", rerr)
		}
	}()
	if s.d.Layers == nil {
		return nil, fmt.Errorf("reading the configuration of %s: no registry to read it from", spec.Image)
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	pol := spec.Config.Checks
	r := &run{s: s, spec: spec, log: log, othersDone: make(chan struct{})}
	// configRead is closed once r.cfg is the registry's: at once, or after
	// the push (readRemote).
	configRead := make(chan struct{})
	if spec.Pushed == nil {
		if r.cfg, err = r.remoteConfig(ctx); err != nil {
			return nil, err
		}
		close(configRead)
	} else {
		r.cfg = spec.Built
	}
	if s.d.Containers != nil {
		r.target = newTarget(s.d.Containers, spec.Image)
		defer func() {
			if id := r.target.close(); id != "" && spec.Defer != nil {
				handed = []string{id}
				spec.Defer(r.target.remove)
				return
			}
			if rerr := r.target.remove(ctx); rerr != nil && err == nil {
				err = fmt.Errorf("removing the container of the image under test: %w", rerr)
			}
		}()
	}
	cstFiles, cstFailed := r.structureFiles()

	// The predefined checks and the test-script run at the same time: the
	// ones that read the image's files start once the files are read (from
	// the registry, once, while the others already run the image); the
	// log still reads check by check, in the order below.
	q := newSequence(log)
	readSec := q.section()
	type slot struct {
		c   check
		sec *section
		run *run // the check's own view of r: its log is its section
		res *pipeline.CheckResult
	}
	var slots []*slot
	for _, c := range predefined {
		if excluded(pol, c.id, pipeline.GroupCheck) {
			ex := q.section()
			fmt.Fprintf(ex, "--- check %s: excluded by %s\n", c.id, spec.Config.File)
			ex.Close()
			continue
		}
		sl := &slot{c: c}
		if c.id != "starts" {
			sl.sec = q.section()
		}
		if !c.needsFS {
			one := *r // before readRemote and readFS start writing r
			one.log = sl.sec
			sl.run = &one
		}
		slots = append(slots, sl)
	}
	var userRes *pipeline.CheckResult
	userSec := q.section()
	// "starts" watches the container while the others and the test-script
	// run: its part of the log comes after theirs, so that theirs is not
	// held back (live) while its window lasts.
	for _, sl := range slots {
		if sl.c.id == "starts" {
			sl.sec = q.section()
			sl.run.log = sl.sec
		}
	}

	filesRead := make(chan struct{})
	var wg, others sync.WaitGroup
	wg.Go(func() {
		defer close(filesRead)
		defer readSec.Close()
		if spec.Pushed != nil {
			r.readRemote(ctx, stop, readSec)
			close(configRead)
			if ctx.Err() != nil {
				return
			}
		}
		if s.needsFS(spec) || len(cstFiles) > 0 {
			r.readFS(ctx, readSec)
		}
	})
	for _, sl := range slots {
		if sl.c.id != "starts" {
			others.Add(1)
		}
		wg.Go(func() {
			if sl.c.id != "starts" {
				defer others.Done()
			}
			defer sl.sec.Close()
			switch {
			case sl.run == nil:
				<-filesRead
				if ctx.Err() != nil {
					return
				}
				one := *r
				one.log = sl.sec
				sl.run = &one
			case !sl.c.runsImage:
				<-configRead
				if ctx.Err() != nil {
					return
				}
				sl.run.cfg = r.cfg
			}
			fmt.Fprintf(sl.sec, "--- check %s: %s\n", sl.c.id, sl.c.description)
			start := time.Now()
			o := sl.c.run(ctx, sl.run)
			if ctx.Err() != nil {
				return
			}
			applied := applyPolicies([]pipeline.CheckResult{{
				ID: sl.c.id, Group: pipeline.GroupCheck, Description: sl.c.description,
				Status: o.status, Detail: o.detail, Output: o.output,
				Duration: time.Since(start),
			}}, pol)
			if len(applied) == 0 {
				return // excluded (not reached: excluded checks do not run)
			}
			res := applied[0]
			sl.res = &res
			how := ""
			if res.Status != o.status {
				how = " (advisory: " + string(o.status) + " shown as " + string(res.Status) + ")"
			}
			fmt.Fprintf(sl.sec, "--- %s %s%s: %s\n", strings.ToUpper(string(res.Status)), sl.c.id, how, o.detail)
		})
	}
	others.Add(1)
	wg.Go(func() {
		defer others.Done()
		defer userSec.Close()
		if excluded(pol, UserScriptID, pipeline.GroupTestScript) {
			return
		}
		start := time.Now()
		res := s.userScript(ctx, spec, r.target, userSec)
		res.Group, res.Duration = pipeline.GroupTestScript, time.Since(start)
		userRes = &res
	})
	go func() {
		others.Wait()
		close(r.othersDone)
	}()
	wg.Wait()
	for _, sl := range slots {
		if sl.res != nil {
			results = append(results, *sl.res)
		}
	}
	if ctx.Err() != nil {
		return results, context.Cause(ctx)
	}
	// The predefined checks' results have their policies already; the
	// user tests' get theirs here.
	var user []pipeline.CheckResult
	if userRes != nil {
		user = append(user, *userRes)
	}
	if cstFailed != nil {
		user = append(user, *cstFailed)
	}
	user = append(user, r.structureTests(ctx, cstFiles)...)
	user = append(user, r.autotest(ctx)...)
	if ctx.Err() != nil {
		return append(results, applyPolicies(user, pol)...), context.Cause(ctx)
	}
	return append(results, applyPolicies(user, pol)...), nil
}

// needsFS reports whether a check that reads the image's files will run.
func (s *Suite) needsFS(spec pipeline.TestSpec) bool {
	for _, c := range predefined {
		if c.needsFS && !excluded(spec.Config.Checks, c.id, pipeline.GroupCheck) {
			return true
		}
	}
	return false
}

// readFS reads the image's files from the registry once, for the checks
// and the structure tests: /etc/passwd and /etc/shadow are kept for the
// password check, every file of every layer goes past the secrets scanner.
func (r *run) readFS(ctx context.Context, log io.Writer) {
	if r.s.d.Layers == nil {
		r.fsErr = fmt.Errorf("no registry to read the image's layers from")
		return
	}
	start := time.Now()
	r.secrets = newSecretScan(r.s.opts)
	opts := imagefs.Options{
		Keep: func(p string, size int64) bool {
			return (p == "/etc/passwd" || p == "/etc/shadow") && size <= maxAccountFile
		},
		Removed: r.secrets.removed,
	}
	if !excluded(r.spec.Config.Checks, "secrets", pipeline.GroupCheck) {
		opts.Visit = r.secrets.visit
	}
	r.fs, r.fsErr = imagefs.Read(ctx, r.s.d.Layers, r.spec.Image, opts)
	if r.fsErr != nil {
		fmt.Fprintf(log, "reading the files of %s: %v\n", r.spec.Image, r.fsErr)
		return
	}
	fmt.Fprintf(log, "read the files of %s's %d layer(s) in %s\n", r.spec.Image, r.fs.Layers(), time.Since(start).Round(time.Millisecond))
}

// noFS is the outcome of a file check when the image's files could not be
// read: a failure, since the check could not vouch for the image.
func (r *run) noFS() outcome {
	return outcome{status: pipeline.CheckFail, detail: fmt.Sprintf("could not read the image's files from the registry: %v", r.fsErr)}
}

// maxOutput bounds the output a result keeps.
const maxOutput = 16 << 10

// tail is an io.Writer that keeps the last maxOutput bytes written to it.
// It is safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	buf []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - maxOutput; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

// String returns what was kept, marked when the start was cut.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "[…]\n" + string(t.buf)
	}
	return string(t.buf)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
