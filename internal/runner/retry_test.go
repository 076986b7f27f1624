package runner_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// killedAtEnd is the fault seam: the server is killed after the build's
// stages ran, before it records the build's end.
type killedAtEnd struct{ runner.Recorder }

func (s killedAtEnd) UpdateBuild(ctx context.Context, b pipeline.Build) error {
	if b.Status.Done() {
		return errors.New("the server was killed before recording the end")
	}
	return s.Recorder.UpdateBuild(ctx, b)
}

// countingTags counts the tags a runner moves in the real registry.
type countingTags struct {
	pipeline.Registry
	n atomic.Int32
}

func (c *countingTags) Tag(ctx context.Context, src, dst string) (string, error) {
	c.n.Add(1)
	return c.Registry.Tag(ctx, src, dst)
}

// TestRetryAfterDelivery: a build whose runner delivered it and was killed
// before recording its end is taken again (attempt 2) by another server: it
// runs from checkout in a fresh workspace, finds the final tag already at
// its digest, and neither tags again nor records a second delivery.
func TestRetryAfterDelivery(t *testing.T) {
	ctx := t.Context()
	e, err := engine.New(ctx, engine.Options{Host: testenv.DockerHost(t)})
	must(t, err)
	defer e.Close()
	host := testenv.DockerRegistry(t)
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	instance := "test-retry-" + hex.EncodeToString(rnd)
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": instance + "\n"})
	p := pipeline.Project{AppID: "demo", JobID: "retry", Tag: "latest", GitURL: repo, GitBranch: "main", GitPath: "/", TargetFile: "Dockerfile", BuildContext: "./"}
	t.Cleanup(func() {
		_, _ = e.Reap(context.Background(), map[string]string{pipeline.LabelInstance: instance})
		_ = e.RemoveImage(context.Background(), host+"/demo/retry:test")
	})
	st := openStore(t)
	must(t, st.PutProject(ctx, p))
	newRunner := func(store runner.Recorder, reg pipeline.Registry) *runner.Runner {
		return runner.New(runner.Deps{Source: source.New(), Engine: e, Registry: reg, Tester: passTester{},
			Scripts: &script.Runner{}, RepoConfigs: index.RepoConfigs{}, Dockerfiles: dockerfile.Reader{}, Reaper: e, Store: store},
			runner.Options{RegistryHost: host, WorkDir: t.TempDir(), Instance: instance})
	}

	queued, _, err := st.Enqueue(ctx, p.Key(), "test", time.Now())
	must(t, err)
	first, err := st.ClaimID(ctx, queued.ID, pipeline.Lease{Holder: "server-a", Until: time.Now().Add(time.Second)}, time.Now())
	must(t, err)
	if _, err := newRunner(killedAtEnd{st}, registry.New(registry.Options{})).Execute(ctx, p, first, inputs(t, st, p, first.ID, nil, false)); err == nil {
		t.Fatal("attempt 1 recorded its end through a killed server")
	}
	delivered, err := st.Images(ctx)
	must(t, err)
	if len(delivered) != 1 || delivered[0].BuildID != queued.ID {
		t.Fatalf("deliveries after attempt 1: %+v, want one by build %d", delivered, queued.ID)
	}

	expired, err := st.ExpireLeases(ctx, time.Now().Add(2*time.Second), pipeline.Retry{Attempts: 3})
	must(t, err)
	if len(expired) != 1 || expired[0].Attempt != 2 {
		t.Fatalf("ExpireLeases = %+v, want the build queued as attempt 2", expired)
	}
	second, err := st.ClaimID(ctx, queued.ID, pipeline.Lease{Holder: "server-b", Until: time.Now().Add(time.Minute)}, time.Now().Add(3*time.Second))
	must(t, err)
	reg := &countingTags{Registry: registry.New(registry.Options{})}
	// Attempt 2's server is killed at the end too, for attempt 3 below.
	end, err := newRunner(killedAtEnd{st}, reg).Execute(ctx, p, second, inputs(t, st, p, second.ID, nil, false))
	if err == nil {
		t.Fatal("attempt 2 recorded its end through a killed server")
	}
	if end.Status != pipeline.StatusSucceeded || end.Attempt != 2 || end.Digest != delivered[0].Digest {
		t.Fatalf("attempt 2: %s %q attempt %d digest %s, want succeeded attempt 2 with %s", end.Status, end.Reason, end.Attempt, end.Digest, delivered[0].Digest)
	}
	if n := reg.n.Load(); n != 0 {
		t.Errorf("attempt 2 moved %d tags, want none", n)
	}
	again, err := st.Images(ctx)
	must(t, err)
	if len(again) != 1 || !again[0].Delivered.Equal(delivered[0].Delivered) {
		t.Errorf("deliveries after attempt 2: %+v, want attempt 1's alone: %+v", again, delivered)
	}
	deliver := readLog(t, st, queued.ID, pipeline.StageDeliver)
	if want := "already delivered " + host + "/demo/retry:latest@" + end.Digest + " by an earlier attempt of this build: not tagging or recording it again"; !strings.Contains(deliver, want) {
		t.Errorf("deliver log lacks %q:\n%s", want, deliver)
	}
	if strings.Count(deliver, "\ndelivered ") != 1 {
		t.Errorf("deliver log reports %d deliveries, want attempt 1's alone:\n%s", strings.Count(deliver, "\ndelivered "), deliver)
	}
	t.Logf("attempt 2 built the same image as attempt 1: %v", !strings.Contains(deliver, "this attempt's image"))

	// Attempt 3, on an engine without the earlier attempts' image (as on
	// another machine), builds another digest: attempt 1's delivery stands.
	must(t, st.RenewLease(ctx, queued.ID, 2, pipeline.Lease{Holder: "server-b", Until: time.Now()}))
	if expired, err := st.ExpireLeases(ctx, time.Now().Add(time.Second), pipeline.Retry{Attempts: 3}); err != nil || len(expired) != 1 {
		t.Fatalf("ExpireLeases = %+v, %v; want the build queued as attempt 3", expired, err)
	}
	third, err := st.ClaimID(ctx, queued.ID, pipeline.Lease{Holder: "server-c", Until: time.Now().Add(time.Minute)}, time.Now().Add(2*time.Second))
	must(t, err)
	must(t, e.RemoveImage(ctx, host+"/demo/retry:test"))
	end, err = newRunner(st, reg).Execute(ctx, p, third, inputs(t, st, p, third.ID, nil, false))
	must(t, err)
	if end.Status != pipeline.StatusSucceeded || end.Attempt != 3 || end.Digest != delivered[0].Digest {
		t.Fatalf("attempt 3: %s %q attempt %d digest %s, want succeeded attempt 3 with %s", end.Status, end.Reason, end.Attempt, end.Digest, delivered[0].Digest)
	}
	if n := reg.n.Load(); n != 0 {
		t.Errorf("attempts 2 and 3 moved %d tags, want none", n)
	}
	if again, err := st.Images(ctx); err != nil || len(again) != 1 || !again[0].Delivered.Equal(delivered[0].Delivered) {
		t.Errorf("deliveries after attempt 3: %+v, %v; want attempt 1's alone: %+v", again, err, delivered)
	}
	if deliver := readLog(t, st, queued.ID, pipeline.StageDeliver); !strings.Contains(deliver, "this attempt's image sha256:") {
		t.Errorf("deliver log does not say attempt 3's other image was not delivered:\n%s", deliver)
	}
	if checkout := readLog(t, st, queued.ID, pipeline.StageCheckout); !strings.Contains(checkout, "attempt 2: attempt 1 lost its runner; starting again from checkout in a fresh workspace") {
		t.Errorf("checkout log does not say attempt 2 started again:\n%s", checkout)
	}
}

// TestLeaseLostRecordsNothing: a build cancelled because another runner
// took it (its lease expired) stops and records nothing more: neither its
// stages nor its end, which are the next attempt's to record.
func TestLeaseLostRecordsNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	must(t, st.PutProject(ctx, demo))
	_, _, err := st.Enqueue(ctx, demo.Key(), "test", time.Now())
	must(t, err)
	b, err := st.Claim(ctx, time.Now())
	must(t, err)
	src := &fakeSource{hang: true, started: make(chan struct{})}
	r := runner.New(runner.Deps{Source: src, Store: st}, runner.Options{WorkDir: t.TempDir()})
	bctx, cancel := context.WithCancelCause(ctx)
	go func() {
		<-src.started
		cancel(fmt.Errorf("another runner took this build: %w", pipeline.ErrLeaseLost))
	}()
	if _, err := r.Execute(bctx, demo, b, inputs(t, st, demo, b.ID, nil, false)); !errors.Is(err, pipeline.ErrLeaseLost) {
		t.Fatalf("Execute = %v, want ErrLeaseLost", err)
	}
	got, err := st.Build(ctx, b.ID)
	must(t, err)
	if got.Status != pipeline.StatusRunning || !got.Finished.IsZero() {
		t.Errorf("stored build: %s %q, want still running (the next attempt's to record)", got.Status, got.Reason)
	}
	stages, err := st.Stages(ctx, b.ID)
	must(t, err)
	if len(stages) != 1 || stages[0].Status != pipeline.StatusRunning {
		t.Errorf("stages %+v, want only checkout, still running", stages)
	}
}
