package sched

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// graphTTL is how long a graph read from the store is used for claims.
// A build ending here drops it at once, so FROM lines a checkout recorded
// count for its cascade; projects registered meanwhile wait this long.
const graphTTL = time.Second

// graphCache keeps the last image graph read, and what it was made of.
type graphCache struct {
	mu       sync.Mutex
	g        *pipeline.Graph
	projects []pipeline.Project
	from     map[string][]pipeline.ImageRef
	read     time.Time
}

// graph returns the image graph of the stored projects: depends-on and
// the FROM images their last checkouts recorded. fresh skips the cache.
func (d *Dispatcher) graph(ctx context.Context, fresh bool) (*pipeline.Graph, error) {
	c := &d.graphs
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := d.readGraph(ctx, fresh); err != nil {
		return nil, err
	}
	return c.g, nil
}

// graphInputs is the graph of a claimed build's inputs: the projects and
// FROM images of the graph its claim was checked against, or newer.
func (d *Dispatcher) graphInputs(ctx context.Context) (pipeline.BuildInputs, error) {
	c := &d.graphs
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := d.readGraph(ctx, false); err != nil {
		return pipeline.BuildInputs{}, err
	}
	return pipeline.BuildInputs{Projects: c.projects, From: c.from}, nil
}

// readGraph reads the graph into the cache when it is older than graphTTL,
// or fresh; called with d.graphs.mu held. The cached map and slice are
// replaced, never changed, as builds' inputs share them.
func (d *Dispatcher) readGraph(ctx context.Context, fresh bool) error {
	c := &d.graphs
	if !fresh && c.g != nil && time.Since(c.read) < graphTTL {
		return nil
	}
	projects, err := d.store.Projects(ctx)
	if err != nil {
		return fmt.Errorf("reading projects: %w", err)
	}
	from, err := d.store.FromImages(ctx)
	if err != nil {
		return err
	}
	if from == nil {
		from = map[string][]pipeline.ImageRef{}
	}
	c.g, c.projects, c.from, c.read = pipeline.NewGraph(projects, from), projects, from, time.Now()
	return nil
}

// claimReady claims the oldest queued build that is ready: its project is
// not running, and none of its ancestors is queued or running (a child
// waits for every parent that may still change). Ancestors on a cycle with the
// build are not waited for; the runner fails such a build. A build queued
// again after it lost its runner (Attempt > 1) goes before the others: it
// had its turn, and waited for its lease to run out. With retries, only
// those whose lost runner was not this process are claimed. When none is
// ready, pipeline.ErrNotFound.
func (d *Dispatcher) claimReady(ctx context.Context, retries bool) (pipeline.Build, error) {
	// One snapshot of the builds queued, running, or ended but not yet
	// settled after their cascade (here or elsewhere): a child waits for
	// each of them, and their repositories are held.
	active, err := d.store.InFlight(ctx, time.Now())
	if err != nil {
		return pipeline.Build{}, err
	}
	busy := map[string]bool{}
	running := map[string]bool{}
	// The image repositories a build holds, here or on another server or
	// worker sharing the store: two builds of one repository would race
	// for its NAME:test tag. ClaimID checks it again; this spares the
	// calls bound to fail.
	repos := map[string]bool{}
	queued := false
	for _, b := range active {
		busy[b.Project] = true
		switch b.Status {
		case pipeline.StatusQueued:
			queued = queued || !retries || b.Attempt > 1
		case pipeline.StatusRunning:
			running[b.Project] = true
			repos[repository(b.Project)] = true
		default: // ended, not settled
			repos[repository(b.Project)] = true
		}
	}
	if !queued {
		return pipeline.Build{}, pipeline.ErrNotFound
	}
	g, err := d.graph(ctx, false)
	if err != nil {
		return pipeline.Build{}, err
	}
	slices.SortStableFunc(active, func(a, b pipeline.Build) int {
		return cmp.Compare(min(b.Attempt, 2), min(a.Attempt, 2)) // retried first
	})
	for _, b := range active {
		if b.Status != pipeline.StatusQueued || retries && !d.lostElsewhere(b) || running[b.Project] || repos[repository(b.Project)] || waitsForParent(g, b.Project, busy) {
			continue
		}
		claimed, err := d.store.ClaimID(ctx, b.ID, d.lease(time.Now()), time.Now())
		if errors.Is(err, pipeline.ErrNotFound) {
			continue // claimed or cancelled meanwhile
		}
		return claimed, err
	}
	return pipeline.Build{}, pipeline.ErrNotFound
}

// lostElsewhere reports whether b was queued again after it lost a runner
// that is not this process: its earlier attempt does not still wind down
// here, holding a worker. d.mu is held.
func (d *Dispatcher) lostElsewhere(b pipeline.Build) bool {
	return b.Attempt > 1 && d.running[b.ID] == nil
}

// repository is the image repository of the project with key (ns/name of
// ns/name:tag), or key itself when it does not parse.
func repository(key string) string { return pipeline.RepositoryOf(key) }

// waitsForParent reports whether a parent of key, or a parent of a parent
// and so on, is queued or running: key then waits, so that a cascade builds
// it once, after every ancestor that may still change it.
func waitsForParent(g *pipeline.Graph, key string, busy map[string]bool) bool {
	var cycle []string
	looked := false
	seen := map[string]bool{key: true}
	stack := []string{key}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range g.Parents(k) {
			if seen[p] {
				continue
			}
			seen[p] = true
			stack = append(stack, p)
			if !busy[p] {
				continue
			}
			if !looked {
				cycle, looked = g.Cycle(key), true
			}
			if !slices.Contains(cycle, p) {
				return true
			}
		}
	}
	return false
}

// cascade acts on a build that ended: a delivery of a new digest queues
// every child of the project (or joins its queued build, which then takes
// this cause); a failure skips the queued builds of every descendant with
// "parent X failed". They run again when the parent next delivers.
func (d *Dispatcher) cascade(b pipeline.Build) {
	if b.Status != pipeline.StatusSucceeded && b.Status != pipeline.StatusFailed {
		return
	}
	ctx := context.Background()
	log := d.opts.Logger.With("build", b.ID, "project", b.Project)
	g, err := d.graph(ctx, true)
	if err != nil {
		log.Error("reading the image graph", "err", err)
		return
	}
	if b.Status == pipeline.StatusFailed {
		d.skipDescendants(ctx, g, b.Project)
		return
	}
	changed, err := d.digestChanged(ctx, b)
	if err != nil {
		log.Error("reading the last delivery", "err", err)
		return
	}
	if !changed {
		return
	}
	cause := fmt.Sprintf("parent %s rebuilt (%s)", b.Project, shortDigest(b.Digest))
	for _, child := range g.Children(b.Project) {
		if p, ok := g.Project(child); ok && p.Disabled {
			continue
		}
		q, joined, err := d.store.Enqueue(ctx, child, cause, time.Now())
		if err == nil && joined {
			err = d.store.SetQueuedCause(ctx, q.ID, cause)
		}
		if err != nil {
			log.Error("queueing a child", "child", child, "err", err)
			continue
		}
		log.Info("queued a child", "child", child, "joined", joined)
	}
	d.signal()
}

// digestChanged reports whether b delivered a digest other than the
// project's previous delivery (true also when there was none).
func (d *Dispatcher) digestChanged(ctx context.Context, b pipeline.Build) (bool, error) {
	if b.Digest == "" {
		return false, nil
	}
	// A page at a time, newest first, from the build before b: the
	// delivered build before it is usually among the first few.
	for before := b.Number; ; {
		builds, err := d.store.BuildsBefore(ctx, b.Project, before, 20)
		if err != nil {
			return false, err
		}
		for _, prev := range builds {
			if prev.ID >= b.ID || prev.Digest == "" {
				continue
			}
			if prev.Status == pipeline.StatusSucceeded || prev.Unchanged() {
				return prev.Digest != b.Digest, nil
			}
		}
		if len(builds) < 20 {
			return true, nil
		}
		before = builds[len(builds)-1].Number
	}
}

// skipDescendants records the queued builds of every project below failed
// as skipped, "parent <failed> failed".
func (d *Dispatcher) skipDescendants(ctx context.Context, g *pipeline.Graph, failed string) {
	active, err := d.store.Active(ctx)
	if err != nil {
		d.opts.Logger.Error("listing queued builds", "err", err)
		return
	}
	queued := map[string]int64{}
	for _, b := range active {
		if b.Status == pipeline.StatusQueued {
			queued[b.Project] = b.ID
		}
	}
	reason := fmt.Sprintf("parent %s failed", failed)
	seen := map[string]bool{failed: true}
	stack := []string{failed}
	for len(stack) > 0 {
		key := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range g.Children(key) {
			if seen[c] {
				continue
			}
			seen[c] = true
			stack = append(stack, c)
			id, ok := queued[c]
			if !ok {
				continue
			}
			if skipped, err := d.store.SkipQueued(ctx, id, reason, time.Now()); err != nil || !skipped {
				continue
			}
			if b, err := d.store.Build(ctx, id); err == nil {
				d.finished(b)
			}
		}
	}
}

// shortDigest is "sha256:" and the first 12 hex digits, then "…".
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
}

// TriggerForced is Trigger for a build that runs even when a build with the
// same inputs was delivered; a queued build it joins is forced too, and
// takes cause. The build is marked forced before a worker of this
// dispatcher can claim it (holding mu, as claims do); the inputs read at
// its claim carry the mark.
func (d *Dispatcher) TriggerForced(ctx context.Context, key, cause string) (pipeline.Build, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, joined, err := d.enqueue(ctx, key, cause)
	if err != nil {
		return b, joined, err
	}
	if err := d.store.SetForce(ctx, b.ID); err != nil {
		return b, joined, err
	}
	d.signal()
	return b, joined, nil
}
