package runner_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// gateTester is the tester seam: each test stage says which project it
// tests, then waits for that project's release; fail makes it fail.
type gateTester struct {
	entered chan string
	mu      sync.Mutex
	release map[string]chan struct{}
	fail    bool
}

func newGateTester() *gateTester {
	return &gateTester{entered: make(chan string, 10), release: map[string]chan struct{}{}}
}

func (g *gateTester) gate(key string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.release[key] == nil {
		g.release[key] = make(chan struct{})
	}
	return g.release[key]
}

func (g *gateTester) Test(ctx context.Context, spec pipeline.TestSpec, log io.Writer) ([]pipeline.CheckResult, error) {
	g.entered <- spec.Project.Key()
	select {
	case <-g.gate(spec.Project.Key()):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	fmt.Fprintln(log, "tests ran")
	if g.fail {
		return []pipeline.CheckResult{{ID: "starts", Group: pipeline.GroupCheck, Status: pipeline.CheckFail, Blocking: true, Detail: "the container exited"}}, nil
	}
	return []pipeline.CheckResult{{ID: "starts", Group: pipeline.GroupCheck, Status: pipeline.CheckPass}}, nil
}

func laneRunner(t *testing.T, tester pipeline.Tester, scanner pipeline.Scanner, testWorkers int) (*runner.Runner, *sqlite.Store) {
	t.Helper()
	st := openStore(t)
	deps := runner.Deps{Source: &gitless{commit: "c1", dockerfile: "FROM scratch\n"}, Engine: &countingEngine{},
		Registry: &mapRegistry{tags: map[string]string{}}, Tester: tester, RepoConfigs: index.RepoConfigs{}, Store: st}
	if scanner != nil {
		deps.Scanner = scanner
	}
	return runner.New(deps, runner.Options{RegistryHost: "reg:5000", WorkDir: t.TempDir(), TestWorkers: testWorkers}), st
}

// closed reports whether c is closed, waiting up to wait for it.
func closed(c chan struct{}, wait time.Duration) bool {
	select {
	case <-c:
		return true
	default:
	}
	select {
	case <-c:
		return true
	case <-time.After(wait):
		return false
	}
}

// TestTestSlotsAndHandOff: a build hands its worker back
// (pipeline.HandOff) when its build stage ends, once it has one of the
// TestWorkers slots; with one slot, a second build waits after its build
// stage, still holding its worker, until the first ends.
func TestTestSlotsAndHandOff(t *testing.T) {
	tester := newGateTester()
	r, st := laneRunner(t, tester, nil, 1)
	one := demo
	two := demo
	two.JobID = "other"

	type ended struct {
		b   pipeline.Build
		err error
	}
	run := func(p pipeline.Project) (handed chan struct{}, done chan ended) {
		handed, done = make(chan struct{}), make(chan ended, 1)
		ctx := pipeline.WithHandoff(context.Background(), func() { close(handed) })
		go func() {
			b, err := r.Run(ctx, p, "test", inputs(t, st, p, 0, nil, false))
			done <- ended{b, err}
		}()
		return handed, done
	}
	handedOne, doneOne := run(one)
	if got := <-tester.entered; got != one.Key() {
		t.Fatalf("%s entered the tests first, want %s", got, one.Key())
	}
	if !closed(handedOne, 0) {
		t.Fatal("the first build is in its tests and did not hand its worker back")
	}

	handedTwo, doneTwo := run(two)
	select {
	case got := <-tester.entered:
		t.Fatalf("%s entered the tests while the one slot was taken", got)
	case <-time.After(500 * time.Millisecond):
	}
	if closed(handedTwo, 0) {
		t.Error("the second build handed its worker back without a test slot")
	}

	close(tester.gate(one.Key()))
	if e := <-doneOne; e.err != nil || e.b.Status != pipeline.StatusSucceeded {
		t.Fatalf("first build: %+v %v", e.b, e.err)
	}
	select {
	case got := <-tester.entered:
		if got != two.Key() {
			t.Fatalf("%s entered the tests, want %s", got, two.Key())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second build did not enter its tests when the slot was freed")
	}
	if !closed(handedTwo, 0) {
		t.Error("the second build is in its tests and did not hand its worker back")
	}
	close(tester.gate(two.Key()))
	if e := <-doneTwo; e.err != nil || e.b.Status != pipeline.StatusSucceeded {
		t.Fatalf("second build: %+v %v", e.b, e.err)
	}
}

// TestBatchBuildsWhileTesting: hoist run's scheduler with one worker and
// this runner: the second build checks out while the first is still in its
// test stage, as the stages' times in the store show.
func TestBatchBuildsWhileTesting(t *testing.T) {
	ctx := context.Background()
	tester := newGateTester()
	r, st := laneRunner(t, tester, nil, 0)
	one := demo
	two := demo
	two.JobID = "other"
	done := make(chan []sched.Result, 1)
	go func() {
		done <- sched.Batch(ctx, r, sched.StoreInputs{Store: st}, []pipeline.Project{one, two}, 1, "test")
	}()
	// The first hands its worker back before its tests start, so either
	// may enter them first.
	in := map[string]bool{}
	for range 2 {
		select {
		case got := <-tester.entered:
			in[got] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v entered the tests: the one worker is held by a build in its tests", in)
		}
	}
	if !in[one.Key()] || !in[two.Key()] {
		t.Fatalf("%v entered the tests, want both", in)
	}
	close(tester.gate(one.Key()))
	close(tester.gate(two.Key()))
	results := <-done
	for _, res := range results {
		if !res.OK() {
			t.Fatalf("%s: %s %q", res.Project.Key(), res.Build.Status, res.Build.Reason)
		}
	}
	test := stageOf(t, st, results[0].Build.ID, pipeline.StageTest)
	checkout := stageOf(t, st, results[1].Build.ID, pipeline.StageCheckout)
	if !checkout.Started.Before(test.Finished) {
		t.Errorf("%s checked out at %s, after %s's test stage ended (%s)", two.Key(), checkout.Started, one.Key(), test.Finished)
	}
}
