package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// The stage breakdown of (d) and (e): where a hoist run's wall time goes,
// read from the run's store after it, so that a change is judged by the
// part it changes rather than by a noisy total.

// span is one part of a run and its samples (one per round).
type span struct {
	name string
	ds   []time.Duration
}

// breakdown collects the spans of several rounds, in the order first seen.
type breakdown struct {
	spans []*span
}

func (b *breakdown) add(name string, d time.Duration) {
	for _, s := range b.spans {
		if s.name == name {
			s.ds = append(s.ds, d)
			return
		}
	}
	b.spans = append(b.spans, &span{name: name, ds: []time.Duration{d}})
}

// lines are every span's median and samples, one per line.
func (b *breakdown) lines() []string {
	var out []string
	for _, s := range b.spans {
		out = append(out, fmt.Sprintf("%-34s %8s   (%s)", s.name, fmtDur(median(s.ds)), samples(s.ds)))
	}
	return out
}

// runBuild is one build of a hoist run with its stages.
type runBuild struct {
	b      pipeline.Build
	stages []pipeline.Stage
	script time.Duration // the test-script's own duration, 0 if none
}

// newestBuilds reads the newest build of each project with its stages.
func newestBuilds(ctx context.Context, st *sqlite.Store, projects []string) ([]runBuild, error) {
	var out []runBuild
	for _, p := range projects {
		builds, err := st.Builds(ctx, p, 1)
		if err != nil || len(builds) == 0 {
			return nil, fmt.Errorf("the newest build of %s: %v", p, err)
		}
		rb := runBuild{b: builds[0]}
		if rb.stages, err = st.Stages(ctx, rb.b.ID); err != nil {
			return nil, err
		}
		results, err := st.CheckResults(ctx, rb.b.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range results {
			if r.ID == "test-script" {
				rb.script = r.Duration
			}
		}
		out = append(out, rb)
	}
	return out, nil
}

// stagesOf adds one build's parts to b: the process's start up to the
// build's record, each stage that ran, the gaps between stages, and the
// process's end after the build's.
func (b *breakdown) stagesOf(rb runBuild, start time.Time, wall time.Duration) {
	b.add("start: process up to the build", rb.b.Started.Sub(start))
	prev := rb.b.Started
	for _, s := range rb.stages {
		if s.Started.IsZero() || s.Finished.IsZero() {
			continue
		}
		if gap := s.Started.Sub(prev); gap > time.Millisecond {
			b.add("between stages", gap)
		}
		b.add(string(s.Name), s.Duration())
		if s.Name == pipeline.StageTest && rb.script > 0 {
			b.add("test: the test-script itself", rb.script)
			b.add("test: beyond the test-script", s.Duration()-rb.script)
		}
		prev = s.Finished
	}
	b.add("end: the build's end to the process's", start.Add(wall).Sub(prev))
}

// batchOf adds a batch's parts to b: the start up to its first build, each
// stage's mean over the builds, the mean time a build held a worker
// (created to the end of its build stage), the worker-bound time (that
// over the workers) and the tail after the last build's end.
func (b *breakdown) batchOf(rbs []runBuild, start time.Time, wall time.Duration, workers int) {
	first, last := rbs[0].b.Started, rbs[0].b.Finished
	sums := map[pipeline.StageName]time.Duration{}
	var held time.Duration
	for _, rb := range rbs {
		if rb.b.Started.Before(first) {
			first = rb.b.Started
		}
		if rb.b.Finished.After(last) {
			last = rb.b.Finished
		}
		for _, s := range rb.stages {
			sums[s.Name] += s.Duration()
			if s.Name == pipeline.StageBuild && !s.Finished.IsZero() {
				held += s.Finished.Sub(rb.b.Started)
			}
		}
	}
	n := time.Duration(len(rbs))
	b.add("start: process up to the first build", first.Sub(start))
	for _, name := range pipeline.Stages {
		if sums[name] > 0 {
			b.add("mean "+string(name), sums[name]/n)
		}
	}
	b.add("mean start to the build stage's end", held/n)
	b.add(fmt.Sprintf("that × builds / %d workers", workers), held/time.Duration(workers))
	b.add("end: the last build's end to the process's", start.Add(wall).Sub(last))
}

// breakdownHow formats a breakdown for the "how measured" lines.
func breakdownHow(title string, b *breakdown) string {
	return title + " (median, then every round):\n      " + strings.Join(b.lines(), "\n      ")
}
