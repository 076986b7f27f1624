// Package sched decides when builds run. Batch builds a set of projects
// once (hoist run): in depends-on order, parents first, a bounded number at
// once, never two of the same image repository together, and not at all
// when a parent failed. Dispatcher is the long-lived form (hoist serve): it
// runs the builds queued in the store, a bounded number at once and one at a
// time per project, and cancels them on request.
package sched

import (
	"context"
	"fmt"
	"sync"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Runner runs, with the inputs Batch read for it, or skips one project's
// build. Implementations must be safe for concurrent use.
type Runner interface {
	Run(ctx context.Context, p pipeline.Project, cause string, in pipeline.BuildInputs) (pipeline.Build, error)
	Skip(ctx context.Context, p pipeline.Project, cause, reason string) (pipeline.Build, error)
}

// Inputs reads what a new build of a project is made from, as it starts
// (StoreInputs reads the store).
type Inputs interface {
	Inputs(ctx context.Context, p pipeline.Project) (pipeline.BuildInputs, error)
}

// Result is how one project's build ended.
type Result struct {
	Project pipeline.Project
	Build   pipeline.Build
	Err     error // the build could not be recorded
}

// OK reports whether the build succeeded, or was skipped because its
// inputs were delivered before (its image is in place).
func (r Result) OK() bool {
	return r.Err == nil && (r.Build.Status == pipeline.StatusSucceeded || r.Build.Unchanged())
}

// Batch builds every project once. Projects must be in pipeline.Order
// (parents first); parents outside the batch are not waited for. A project
// starts when every parent in the batch has succeeded; when one failed or was
// skipped, the project is skipped with the reason "parent X failed". At most
// workers builds run at once up to the end of their build stage (then they
// hand their worker back, pipeline.HandOff, and go on with their tests;
// the runner bounds those), and never two of the same repository. A child
// waits for its parents' whole builds. Each build gets the inputs in reads
// as it starts (nil: none); one in cannot read is not run, its Result
// carries the error. Results come back in the order of projects, once
// every build has ended.
func Batch(ctx context.Context, r Runner, in Inputs, projects []pipeline.Project, workers int, cause string) []Result {
	if workers < 1 {
		workers = 1
	}
	b := &batch{ctx: ctx, r: r, in: in, cause: cause, projects: projects, results: make([]Result, len(projects)),
		done: make([]bool, len(projects)), running: map[string]bool{}, index: map[string]int{}}
	for i, p := range projects {
		b.index[p.Key()] = i
	}
	b.cond = sync.NewCond(&b.mu)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(b.work)
	}
	wg.Wait()
	b.builds.Wait()
	return b.results
}

type batch struct {
	ctx      context.Context
	r        Runner
	in       Inputs
	cause    string
	projects []pipeline.Project
	index    map[string]int

	mu      sync.Mutex
	cond    *sync.Cond
	started int // how many projects have been taken
	active  int // how many are running now
	taken   []bool
	done    []bool
	running map[string]bool // repositories being built
	results []Result
	builds  sync.WaitGroup // the builds started, until they end
}

// work takes ready projects until none are left.
func (b *batch) work() {
	for {
		b.mu.Lock()
		i, skip := b.next()
		for i < 0 && b.started < len(b.projects) {
			if b.active == 0 {
				// Nothing runs and nothing is ready: the rest wait on each other.
				i, skip = b.firstWaiting(), "its depends-on form a cycle"
				break
			}
			b.cond.Wait()
			i, skip = b.next()
		}
		if i < 0 {
			b.mu.Unlock()
			return
		}
		p := b.projects[i]
		b.started++
		b.active++
		b.taken[i] = true
		if skip == "" {
			b.running[p.Image().Repository()] = true
		}
		b.mu.Unlock()
		b.run(i, p, skip)
	}
}

// run runs or skips project i and returns when it has ended, or when its
// build stage has ended and the build hands its worker back
// (pipeline.HandOff): the build then goes on by itself, and counts as
// active, and its repository as running, until it ends.
func (b *batch) run(i int, p pipeline.Project, skip string) {
	handed := make(chan struct{})
	ctx := pipeline.WithHandoff(b.ctx, func() { close(handed) })
	ended := make(chan struct{})
	b.builds.Go(func() {
		defer close(ended)
		var res Result
		res.Project = p
		if skip != "" {
			res.Build, res.Err = b.r.Skip(ctx, p, b.cause, skip)
		} else {
			res.Build, res.Err = b.runOne(ctx, p)
		}

		b.mu.Lock()
		b.results[i], b.done[i] = res, true
		b.active--
		delete(b.running, p.Image().Repository())
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	select {
	case <-ended:
	case <-handed:
	}
}

// runOne reads p's inputs and runs its build with them.
func (b *batch) runOne(ctx context.Context, p pipeline.Project) (pipeline.Build, error) {
	var in pipeline.BuildInputs
	if b.in != nil {
		var err error
		if in, err = b.in.Inputs(ctx, p); err != nil {
			return pipeline.Build{Project: p.Key()}, fmt.Errorf("reading the inputs of %s: %w", p.Key(), err)
		}
	}
	return b.r.Run(ctx, p, b.cause, in)
}

// next returns the first project that can start now, with a skip reason when
// it must be skipped, or -1. Called with b.mu held.
func (b *batch) next() (int, string) {
	if b.taken == nil {
		b.taken = make([]bool, len(b.projects))
	}
	for i, p := range b.projects {
		if b.taken[i] {
			continue
		}
		ready, reason := b.parentsDone(p)
		if !ready {
			continue
		}
		if reason == "" && b.ctx.Err() != nil {
			reason = "cancelled before it started"
		}
		if reason == "" && b.running[p.Image().Repository()] {
			continue
		}
		return i, reason
	}
	return -1, ""
}

// firstWaiting returns the first project not taken yet.
func (b *batch) firstWaiting() int {
	for i := range b.projects {
		if !b.taken[i] {
			return i
		}
	}
	return -1
}

// parentsDone reports whether every parent in the batch has finished, and
// if one did not succeed, the reason to skip p.
func (b *batch) parentsDone(p pipeline.Project) (bool, string) {
	for _, d := range p.DependsOn {
		j, ok := b.index[d.String()]
		if !ok {
			continue
		}
		if !b.done[j] {
			return false, ""
		}
		if res := b.results[j]; !res.OK() {
			return true, fmt.Sprintf("parent %s %s", d, verb(res))
		}
	}
	return true, ""
}

func verb(r Result) string {
	if r.Err != nil {
		return "could not run"
	}
	switch r.Build.Status {
	case pipeline.StatusSkipped:
		return "was skipped"
	case pipeline.StatusCancelled:
		return "was cancelled"
	}
	return "failed"
}
