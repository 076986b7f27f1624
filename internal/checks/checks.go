// Package checks is Hoist's test stage: the predefined checks every image
// gets, then the project's own tests. It runs containers through the
// pipeline's engine interfaces and user scripts through its script runner, so
// it works with any engine adapter.
package checks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Engine is what the checks need from a container engine.
type Engine interface {
	pipeline.ImageInspector
	pipeline.ContainerRunner
}

// Options tune the checks.
type Options struct {
	// StayUp is how long a container that does not exit must stay up to
	// pass the "starts" check (default 3 s).
	StayUp time.Duration
	// StartTimeout bounds the whole "starts" check (default 2 min).
	StartTimeout time.Duration
	// ScriptTimeout bounds the user's test-script (default 30 min).
	ScriptTimeout time.Duration
}

// Suite runs the predefined checks and the user's tests. It implements
// pipeline.Tester.
type Suite struct {
	engine  Engine
	scripts pipeline.ScriptRunner
	opts    Options
}

var _ pipeline.Tester = (*Suite)(nil)

// New returns a Suite using engine for containers and scripts for test-scripts.
func New(engine Engine, scripts pipeline.ScriptRunner, opts Options) *Suite {
	if opts.StayUp == 0 {
		opts.StayUp = 3 * time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.ScriptTimeout == 0 {
		opts.ScriptTimeout = 30 * time.Minute
	}
	return &Suite{engine: engine, scripts: scripts, opts: opts}
}

// check is one predefined check.
type check struct {
	id, description string
	blocking        bool
	run             func(ctx context.Context, s *Suite, spec pipeline.TestSpec, cfg pipeline.ImageConfig, log io.Writer) (pipeline.CheckStatus, string)
}

var predefined = []check{
	{"config", "the image has a CMD or an ENTRYPOINT", true, checkConfig},
	{"starts", "the container starts and exits 0, or stays up", true, checkStarts},
}

// Test runs the predefined checks, then the user's test-script, and always
// removes the containers created from the image under test.
func (s *Suite) Test(ctx context.Context, spec pipeline.TestSpec, log io.Writer) (results []pipeline.CheckResult, err error) {
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		n, rerr := s.engine.RemoveContainersOf(cctx, spec.Image)
		if n > 0 {
			fmt.Fprintf(log, "removed %d container(s) left by the tests\n", n)
		}
		if rerr != nil && err == nil {
			err = fmt.Errorf("removing test containers: %w", rerr)
		}
	}()
	cfg, err := s.engine.InspectImage(ctx, spec.Image)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", spec.Image, err)
	}
	for _, c := range predefined {
		fmt.Fprintf(log, "--- check %s: %s\n", c.id, c.description)
		status, detail := c.run(ctx, s, spec, cfg, log)
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		results = append(results, pipeline.CheckResult{ID: c.id, Description: c.description, Status: status, Detail: detail, Blocking: c.blocking})
		fmt.Fprintf(log, "--- %s %s: %s\n", strings.ToUpper(string(status)), c.id, detail)
	}
	results = append(results, s.userScript(ctx, spec, log))
	return results, ctx.Err()
}

// Failed returns the blocking results that failed.
func Failed(results []pipeline.CheckResult) []pipeline.CheckResult {
	var failed []pipeline.CheckResult
	for _, r := range results {
		if r.Blocking && r.Status == pipeline.CheckFail {
			failed = append(failed, r)
		}
	}
	return failed
}

func checkConfig(_ context.Context, _ *Suite, _ pipeline.TestSpec, cfg pipeline.ImageConfig, _ io.Writer) (pipeline.CheckStatus, string) {
	switch {
	case len(cfg.Entrypoint) > 0:
		return pipeline.CheckPass, fmt.Sprintf("ENTRYPOINT %q", cfg.Entrypoint)
	case len(cfg.Cmd) > 0:
		return pipeline.CheckPass, fmt.Sprintf("CMD %q", cfg.Cmd)
	}
	return pipeline.CheckFail, "the image has neither CMD nor ENTRYPOINT; add one to the Dockerfile so the container knows what to run"
}

func checkStarts(ctx context.Context, s *Suite, spec pipeline.TestSpec, cfg pipeline.ImageConfig, log io.Writer) (pipeline.CheckStatus, string) {
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return pipeline.CheckNA, "nothing to start: no CMD or ENTRYPOINT"
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	res, err := s.engine.Run(ctx, pipeline.RunSpec{
		Image:  spec.Image,
		Labels: map[string]string{"io.hoist.check": "starts"},
		StayUp: s.opts.StayUp,
	}, log)
	switch {
	case err != nil:
		return pipeline.CheckFail, fmt.Sprintf("the container did not start: %v", err)
	case !res.Exited:
		return pipeline.CheckPass, fmt.Sprintf("still running after %s", s.opts.StayUp)
	case res.ExitCode == 0:
		return pipeline.CheckPass, "exited 0"
	}
	return pipeline.CheckFail, fmt.Sprintf("the container exited with status %d within %s (its output is above)", res.ExitCode, s.opts.StayUp)
}
