package sched

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// graphExec is the seam where builds would run, for cascade tests: it ends
// each build at once as its project is set up to (a new digest, the same
// digest as "unchanged", or a failure), and checks that no ancestor of the
// project is queued or running while it runs.
type graphExec struct {
	t         *testing.T
	store     *sqlite.Store
	unchanged map[string]bool
	fail      map[string]bool
	graph     *pipeline.Graph

	mu         sync.Mutex
	runs       map[string]int
	order      []string
	violations []string
}

func (f *graphExec) Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, _ pipeline.BuildInputs) (pipeline.Build, error) {
	key := p.Key()
	if err := f.checkAncestors(ctx, key); err != nil {
		f.mu.Lock()
		f.violations = append(f.violations, err.Error())
		f.mu.Unlock()
	}
	f.mu.Lock()
	f.runs[key]++
	f.order = append(f.order, key)
	fail := f.fail[key]
	f.mu.Unlock()
	switch {
	case fail:
		b.Status, b.FailedStage, b.Reason = pipeline.StatusFailed, pipeline.StageBuild, "RUN false"
	case f.unchanged[key]:
		b.Status, b.Reason, b.Digest = pipeline.StatusSkipped, pipeline.UnchangedPrefix+"same inputs as build #1", "sha256:old-"+key
	default:
		b.Status, b.Digest = pipeline.StatusSucceeded, fmt.Sprintf("sha256:new-%s-%d", key, b.ID)
	}
	b.Finished = time.Now()
	return b, f.store.UpdateBuild(context.Background(), b)
}

func (f *graphExec) checkAncestors(ctx context.Context, key string) error {
	g := f.graph
	active, err := f.store.Active(ctx)
	if err != nil {
		return err
	}
	busy := map[string]bool{}
	for _, b := range active {
		if b.Project != key {
			busy[b.Project] = true
		}
	}
	if waitsForParent(g, key, busy) {
		return fmt.Errorf("%s started while an ancestor was queued or running", key)
	}
	return nil
}

// graphFixture runs a dispatcher over projects on a real store, where each
// project already delivered "sha256:old-<key>" once.
func graphFixture(t *testing.T, projects []pipeline.Project, unchanged, fail map[string]bool) (*graphExec, *Dispatcher, *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	for _, p := range projects {
		must(t, st.PutProject(ctx, p))
		b := pipeline.Build{Project: p.Key(), Status: pipeline.StatusSucceeded, Digest: "sha256:old-" + p.Key(), Cause: "setup"}
		must(t, st.CreateBuild(ctx, &b))
	}
	f := &graphExec{t: t, store: st, unchanged: unchanged, fail: fail, runs: map[string]int{},
		graph: pipeline.NewGraph(projects, nil)}
	d := NewDispatcher(st, f, DispatcherOptions{Workers: 8, Poll: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })
	return f, d, st
}

// settle waits until the store has no queued or running build.
func settle(t *testing.T, d *Dispatcher, st *sqlite.Store) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		active, err := st.InFlight(context.Background(), time.Now())
		must(t, err)
		if len(active) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("builds still queued or running after 3 min")
}

// synthetic is a layered graph of n projects: each after the first 20 has
// one to three parents among the earlier ones.
func synthetic(n int, seed uint64) []pipeline.Project {
	r := rand.New(rand.NewPCG(seed, seed))
	var ps []pipeline.Project
	for i := range n {
		var deps []string
		if i >= 20 {
			for range 1 + r.IntN(3) {
				deps = append(deps, fmt.Sprintf("ns/p%d:1", r.IntN(i)))
			}
		}
		ps = append(ps, proj(fmt.Sprintf("ns/p%d:1", i), deps...))
	}
	return ps
}

func TestCascadeSyntheticGraph(t *testing.T) {
	projects := synthetic(500, 4)
	unchanged := map[string]bool{}
	for i := 0; i < 500; i += 7 {
		unchanged[fmt.Sprintf("ns/p%d:1", i)] = true
	}
	roots := []string{"ns/p0:1", "ns/p3:1", "ns/p11:1", "ns/p42:1"}
	delete(unchanged, "ns/p0:1")

	// What should run: a root, or a child of a project that delivered a new
	// digest; each once, in a topological order.
	g := pipeline.NewGraph(projects, nil)
	want := map[string]bool{}
	changed := map[string]bool{}
	for _, p := range projects { // projects are in a topological order
		k := p.Key()
		run := strings.Contains(" "+strings.Join(roots, " ")+" ", " "+k+" ")
		for _, parent := range g.Parents(k) {
			run = run || changed[parent]
		}
		want[k] = run
		changed[k] = run && !unchanged[k]
	}

	f, d, st := graphFixture(t, projects, unchanged, nil)
	start := time.Now()
	for _, r := range roots {
		if _, _, err := d.Trigger(context.Background(), r, "manual by test"); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, d, st)
	t.Logf("%d builds in %s", len(f.order), time.Since(start))
	for _, v := range f.violations {
		t.Error(v)
	}
	wantRuns := 0
	for _, p := range projects {
		k := p.Key()
		if want[k] {
			wantRuns++
		}
		switch got := f.runs[k]; {
		case want[k] && got != 1:
			t.Errorf("%s ran %d times, want once", k, got)
		case !want[k] && got != 0:
			t.Errorf("%s ran %d times, want never", k, got)
		}
	}
	if len(f.order) != wantRuns || wantRuns < 50 {
		t.Errorf("%d builds ran, want %d (and a cascade of some size)", len(f.order), wantRuns)
	}
	// A child's build names the parent that caused it.
	bs, err := st.Builds(context.Background(), f.order[len(f.order)-1], 1)
	must(t, err)
	if !strings.HasPrefix(bs[0].Cause, "parent ns/p") || !strings.Contains(bs[0].Cause, "rebuilt (sha256:new-") {
		t.Errorf("cause of the last build = %q, want \"parent … rebuilt (sha256:…)\"", bs[0].Cause)
	}
}

func TestCascadeParentFailureSkipsThenRecovers(t *testing.T) {
	projects := []pipeline.Project{proj("a/parent:1"), proj("a/child:1", "a/parent:1"), proj("a/grandchild:1", "a/child:1"), proj("a/other:1")}
	fail := map[string]bool{"a/parent:1": true}
	f, d, st := graphFixture(t, projects, nil, fail)
	ctx := context.Background()
	// The parent and its descendants are queued together (a push to a repo
	// they share); the children wait for the parent, which fails.
	f.mu.Lock() // hold the executor until everything is queued
	var child, grand pipeline.Build
	for _, k := range []string{"a/parent:1", "a/child:1", "a/grandchild:1"} {
		b, _, err := d.Trigger(ctx, k, "git push abc1234 to main")
		must(t, err)
		switch k {
		case "a/child:1":
			child = b
		case "a/grandchild:1":
			grand = b
		}
	}
	f.mu.Unlock()
	settle(t, d, st)
	for _, b := range []pipeline.Build{child, grand} {
		got, err := st.Build(ctx, b.ID)
		must(t, err)
		if got.Status != pipeline.StatusSkipped || got.Reason != "parent a/parent:1 failed" {
			t.Errorf("%s: %s %q, want skipped \"parent a/parent:1 failed\"", got.Project, got.Status, got.Reason)
		}
	}
	if f.runs["a/child:1"] != 0 || f.runs["a/grandchild:1"] != 0 {
		t.Errorf("children ran: %v", f.runs)
	}
	// The fix: the parent delivers, and the children run again, in order.
	f.mu.Lock()
	delete(f.fail, "a/parent:1")
	f.order = nil
	f.mu.Unlock()
	_, _, err := d.Trigger(ctx, "a/parent:1", "git push def5678 to main")
	must(t, err)
	settle(t, d, st)
	if got := strings.Join(f.order, " "); got != "a/parent:1 a/child:1 a/grandchild:1" {
		t.Errorf("after the fix ran %q, want parent, child, grandchild", got)
	}
	for _, v := range f.violations {
		t.Error(v)
	}
}

func TestTriggerForced(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	must(t, err)
	defer st.Close()
	must(t, st.PutProject(ctx, proj("a/x:1")))
	d := NewDispatcher(st, nil, DispatcherOptions{}) // not running: builds stay queued
	b, joined, err := d.Trigger(ctx, "a/x:1", "git push abc1234 to main")
	must(t, err)
	if forced, _ := st.Forced(ctx, b.ID); forced || joined {
		t.Fatalf("a plain trigger is forced (%v) or joined (%v)", forced, joined)
	}
	f, joined, err := d.TriggerForced(ctx, "a/x:1", "manual by alice (forced)")
	must(t, err)
	if !joined || f.ID != b.ID || f.Cause != "manual by alice (forced)" {
		t.Errorf("TriggerForced = %+v joined %v, want build %d joined with the newest cause", f, joined, b.ID)
	}
	stored, err := st.Build(ctx, b.ID)
	must(t, err)
	if forced, _ := st.Forced(ctx, b.ID); !forced || stored.Cause != "manual by alice (forced)" {
		t.Errorf("stored build: forced %v, cause %q", forced, stored.Cause)
	}
	if _, _, err := d.TriggerForced(ctx, "no/such:1", "x"); err != pipeline.ErrNotFound {
		t.Errorf("TriggerForced of no project: %v, want ErrNotFound", err)
	}
}
