package sched

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hoistci/hoist/internal/pipeline"
)

// fakeRunner is a seam: it records the order builds ran in and fails the
// projects named in fail.
type fakeRunner struct {
	mu      sync.Mutex
	fail    map[string]bool
	log     []string
	ended   map[string]bool
	early   []string // "child before parent" for builds started before a parent ended
	running map[string]int
	maxRepo int
	active  int
	maxAct  int
}

func (f *fakeRunner) Run(ctx context.Context, p pipeline.Project, cause string, _ pipeline.BuildInputs) (pipeline.Build, error) {
	f.mu.Lock()
	f.log = append(f.log, "run "+p.Key())
	if f.running == nil {
		f.running, f.ended = map[string]int{}, map[string]bool{}
	}
	for _, d := range p.DependsOn {
		if !f.ended[d.String()] {
			f.early = append(f.early, p.Key()+" before "+d.String())
		}
	}
	f.running[p.Image().Repository()]++
	f.maxRepo = max(f.maxRepo, f.running[p.Image().Repository()])
	f.active++
	f.maxAct = max(f.maxAct, f.active)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running[p.Image().Repository()]--
		f.active--
		f.ended[p.Key()] = true
		f.mu.Unlock()
	}()
	if f.fail[p.Key()] {
		return pipeline.Build{Project: p.Key(), Status: pipeline.StatusFailed}, nil
	}
	return pipeline.Build{Project: p.Key(), Status: pipeline.StatusSucceeded}, nil
}

func (f *fakeRunner) Skip(ctx context.Context, p pipeline.Project, cause, reason string) (pipeline.Build, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "skip "+p.Key()+": "+reason)
	return pipeline.Build{Project: p.Key(), Status: pipeline.StatusSkipped, Reason: reason}, nil
}

func proj(key string, deps ...string) pipeline.Project {
	ref, err := pipeline.ParseImageRef(key)
	if err != nil {
		panic(err)
	}
	p := pipeline.Project{AppID: ref.Namespace, JobID: ref.Name, Tag: ref.Tag}
	if p.AppID == "" {
		p.AppID = pipeline.LibraryNamespace
	}
	for _, d := range deps {
		r, err := pipeline.ParseImageRef(d)
		if err != nil {
			panic(err)
		}
		p.DependsOn = append(p.DependsOn, r)
	}
	return p
}

func TestBatchOrderAndSkip(t *testing.T) {
	projects := []pipeline.Project{
		proj("a/base:1"),
		proj("a/mid:1", "a/base:1"),
		proj("a/leaf:1", "a/mid:1"),
		proj("b/broken:1"),
		proj("b/child:1", "b/broken:1"),
		proj("b/grandchild:1", "b/child:1"),
		proj("c/outside:1", "x/notinbatch:1"),
	}
	f := &fakeRunner{fail: map[string]bool{"b/broken:1": true}}
	res := Batch(context.Background(), f, nil, projects, 1, "test")
	want := []string{
		"run a/base:1", "run a/mid:1", "run a/leaf:1", "run b/broken:1",
		"skip b/child:1: parent b/broken:1 failed",
		"skip b/grandchild:1: parent b/child:1 was skipped",
		"run c/outside:1",
	}
	if diff := cmp.Diff(want, f.log); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	var statuses []pipeline.Status
	for i, r := range res {
		if r.Project.Key() != projects[i].Key() {
			t.Errorf("result %d is %s, want %s", i, r.Project.Key(), projects[i].Key())
		}
		statuses = append(statuses, r.Build.Status)
	}
	wantStatus := []pipeline.Status{"succeeded", "succeeded", "succeeded", "failed", "skipped", "skipped", "succeeded"}
	if diff := cmp.Diff(wantStatus, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestBatchParallelRespectsRepositories(t *testing.T) {
	var projects []pipeline.Project
	for i := range 40 {
		projects = append(projects, proj(fmt.Sprintf("ns/repo%d:t%d", i%4, i)))
	}
	projects = append(projects, proj("ns/last:1", "ns/repo0:t0", "ns/repo1:t37"))
	f := &fakeRunner{}
	res := Batch(context.Background(), f, nil, projects, 8, "test")
	if f.maxRepo != 1 {
		t.Errorf("%d builds of one repository ran at once, want 1", f.maxRepo)
	}
	if f.maxAct > 8 {
		t.Errorf("%d builds ran at once, want at most 8", f.maxAct)
	}
	if len(f.early) > 0 {
		t.Errorf("children ran before their parents ended: %v", f.early)
	}
	for _, r := range res {
		if !r.OK() {
			t.Errorf("%s: %s", r.Project.Key(), r.Build.Status)
		}
	}
}

func TestBatchCycleDoesNotHang(t *testing.T) {
	projects := []pipeline.Project{proj("a/x:1", "a/y:1"), proj("a/y:1", "a/x:1"), proj("a/z:1")}
	f := &fakeRunner{}
	res := Batch(context.Background(), f, nil, projects, 2, "test")
	if !res[2].OK() {
		t.Errorf("a/z:1 should build: %+v", res[2])
	}
	for _, r := range res[:2] {
		if r.Build.Status != pipeline.StatusSkipped {
			t.Errorf("%s: %s, want skipped", r.Project.Key(), r.Build.Status)
		}
	}
}

func TestBatchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeRunner{}
	res := Batch(ctx, f, nil, []pipeline.Project{proj("a/x:1"), proj("a/y:1")}, 1, "test")
	for _, r := range res {
		if r.Build.Status != pipeline.StatusSkipped || r.Build.Reason != "cancelled before it started" {
			t.Errorf("%s: %s %q", r.Project.Key(), r.Build.Status, r.Build.Reason)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) && len(f.log) != 2 {
		t.Errorf("log %v", f.log)
	}
}
