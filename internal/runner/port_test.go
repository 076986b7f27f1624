package runner_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// countingRecorder is the seam under test: it is the runner's port and
// nothing more (it does not embed the store, so the runner can reach no
// other method of it, not even by a type assertion), passes each call on
// to a real store and counts it by name.
type countingRecorder struct {
	st    *sqlite.Store
	mu    sync.Mutex
	calls map[string]int
}

var _ runner.Recorder = (*countingRecorder)(nil)

func (c *countingRecorder) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[name]++
}

func (c *countingRecorder) CreateBuild(ctx context.Context, b *pipeline.Build) error {
	c.count("CreateBuild")
	return c.st.CreateBuild(ctx, b)
}
func (c *countingRecorder) UpdateBuild(ctx context.Context, b pipeline.Build) error {
	c.count("UpdateBuild")
	return c.st.UpdateBuild(ctx, b)
}
func (c *countingRecorder) PutStage(ctx context.Context, s pipeline.Stage) error {
	c.count("PutStage")
	return c.st.PutStage(ctx, s)
}
func (c *countingRecorder) AppendLog(ctx context.Context, id int64, stage pipeline.StageName, p []byte) error {
	c.count("AppendLog")
	return c.st.AppendLog(ctx, id, stage, p)
}
func (c *countingRecorder) SetFromImages(ctx context.Context, project string, images []pipeline.ImageRef) error {
	c.count("SetFromImages")
	return c.st.SetFromImages(ctx, project, images)
}
func (c *countingRecorder) SetIdentity(ctx context.Context, id int64, project, identity string, from []pipeline.ImageRef) error {
	c.count("SetIdentity")
	return c.st.SetIdentity(ctx, id, project, identity, from)
}
func (c *countingRecorder) DeliveredWithIdentity(ctx context.Context, project, identity string) (pipeline.Build, error) {
	c.count("DeliveredWithIdentity")
	return c.st.DeliveredWithIdentity(ctx, project, identity)
}
func (c *countingRecorder) RecordImage(ctx context.Context, img pipeline.DeliveredImage) error {
	c.count("RecordImage")
	return c.st.RecordImage(ctx, img)
}
func (c *countingRecorder) PutCheckResults(ctx context.Context, id int64, results []pipeline.CheckResult) error {
	c.count("PutCheckResults")
	return c.st.PutCheckResults(ctx, id, results)
}
func (c *countingRecorder) PutArtifact(ctx context.Context, a pipeline.Artifact) error {
	c.count("PutArtifact")
	return c.st.PutArtifact(ctx, a)
}
func (c *countingRecorder) PutScan(ctx context.Context, s *pipeline.Scan) error {
	c.count("PutScan")
	return c.st.PutScan(ctx, s)
}
func (c *countingRecorder) Scans(ctx context.Context, project string, limit int) ([]pipeline.Scan, error) {
	c.count("Scans")
	return c.st.Scans(ctx, project, limit)
}

// TestRecorderPortHasNoTableReads: the runner's port to the store has a
// few methods, and none of them reads a table whole (every project, every
// delivered image, every project's FROM images, a project's every build).
func TestRecorderPortHasNoTableReads(t *testing.T) {
	port := reflect.TypeFor[runner.Recorder]()
	var names []string
	for i := range port.NumMethod() {
		names = append(names, port.Method(i).Name)
	}
	for _, whole := range []string{"Projects", "Images", "FromImages", "Builds", "Active", "Forced", "PinnedCommit", "LastDelivered"} {
		if slices.Contains(names, whole) {
			t.Errorf("runner.Recorder has %s: the scheduler reads it for the build (pipeline.BuildInputs)", whole)
		}
	}
	if len(names) > 12 {
		t.Errorf("runner.Recorder has %d methods (%v): keep the port small", len(names), names)
	}
}

// TestBuildUsesItsInputs runs builds through the counting port with inputs
// the store does not hold: the parent's digest, the force flag and the
// image graph come from the inputs alone, and the runner calls only the
// port's recording methods and the one keyed read
// (DeliveredWithIdentity), a bounded number of times per build.
func TestBuildUsesItsInputs(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	rec := &countingRecorder{st: st}
	eng := &countingEngine{}
	reg := &mapRegistry{tags: map[string]string{}}
	src := &gitless{commit: "c1", dockerfile: "FROM demo/base:1\n"}
	r := runner.New(runner.Deps{Source: src, Engine: eng, Reaper: eng, Registry: reg, Tester: passTester{},
		RepoConfigs: index.RepoConfigs{}, Dockerfiles: dockerfile.Reader{}, Store: rec},
		runner.Options{RegistryHost: "reg:5000", WorkDir: t.TempDir(), Instance: "test"})
	base := pipeline.Project{AppID: "demo", JobID: "base", Tag: "1"}
	// The parent's delivery is in the inputs only, not in the store.
	in := pipeline.BuildInputs{
		Projects:  []pipeline.Project{demo, base},
		Delivered: map[string]pipeline.DeliveredImage{"reg:5000/demo/base:1": {Image: "reg:5000/demo/base:1", Project: base.Key(), Digest: "sha256:handed"}},
	}
	b, err := r.Run(ctx, demo, "test", in)
	must(t, err)
	if b.Status != pipeline.StatusSucceeded {
		t.Fatalf("build: %s %q, want succeeded", b.Status, b.Reason)
	}
	if got := eng.pulled; len(got) != 1 || got[0] != "reg:5000/demo/base@sha256:handed as demo/base:1" {
		t.Errorf("pulled %q, want the parent's digest from the inputs", got)
	}
	first := rec.snapshot()
	for name, n := range map[string]int{"CreateBuild": 1, "SetIdentity": 1, "DeliveredWithIdentity": 1, "SetFromImages": 1, "RecordImage": 1} {
		if first[name] != n {
			t.Errorf("%s called %d times by one build, want %d (all calls: %v)", name, first[name], n, first)
		}
	}

	// The same inputs again: unchanged. Forced in the inputs (the store
	// has no force mark): built.
	if b, err := r.Run(ctx, demo, "test", in); err != nil || !b.Unchanged() {
		t.Fatalf("second build: %s %q, %v; want unchanged", b.Status, b.Reason, err)
	}
	forced := in
	forced.Force = true
	fb, err := r.Run(ctx, demo, "forced", forced)
	if err != nil || fb.Status != pipeline.StatusSucceeded {
		t.Fatalf("forced build: %s %q, %v; want succeeded", fb.Status, fb.Reason, err)
	}
	if log := readLog(t, st, fb.ID, pipeline.StageCheckout); !strings.Contains(log, "forced: building even if these inputs were delivered before") {
		t.Errorf("forced build's checkout log lacks the force:\n%s", log)
	}

	// A graph in the inputs where the parent builds FROM this project: the
	// checkout closes a cycle, though the store records no such edge.
	cyclic := in
	cyclic.From = map[string][]pipeline.ImageRef{base.Key(): {demo.Image()}}
	if b, err := r.Run(ctx, demo, "test", cyclic); err != nil || b.Status != pipeline.StatusFailed || !strings.Contains(b.Reason, "the image graph has a cycle") {
		t.Fatalf("build in a cyclic graph: %s %q, %v; want failed with the cycle", b.Status, b.Reason, err)
	}
	if from, err := st.FromImages(ctx); err != nil || len(from[base.Key()]) != 0 {
		t.Errorf("the store's FROM images of %s = %v, %v; the cycle was in the inputs only", base.Key(), from[base.Key()], err)
	}
	t.Logf("port calls for 4 builds: %v", rec.snapshot())
}

func (c *countingRecorder) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}
