package runner_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// fakeSource is a seam: a checkout that writes a lot of output, or that
// hangs until its context ends, without git.
type fakeSource struct {
	write   int           // bytes of output to write
	hang    bool          // wait for ctx instead of returning
	commit  string        // check out this commit, into an empty folder
	started chan struct{} // closed when Checkout starts, if not nil
}

func (f *fakeSource) Checkout(ctx context.Context, url, branch, dir string, log io.Writer) (string, error) {
	if f.started != nil {
		close(f.started)
	}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for n := 0; n < f.write; n += len(line) {
		if _, err := log.Write(line); err != nil {
			return "", err
		}
	}
	if f.hang {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if f.commit != "" {
		return f.commit, os.MkdirAll(dir, 0o755)
	}
	return "", errors.New("the fake checkout ends here")
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hoist.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func readLog(t *testing.T, st *sqlite.Store, id int64, stage pipeline.StageName) string {
	t.Helper()
	rc, err := st.OpenLog(context.Background(), id, stage, 0)
	must(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	must(t, err)
	return string(b)
}

var demo = pipeline.Project{AppID: "demo", JobID: "app", Tag: "latest", GitURL: "https://example.invalid/app.git", GitBranch: "main", TargetFile: "Dockerfile"}

// TestLogLimit checks that a stage writing more than LogLimit keeps exactly
// the limit, one marker line and the failure note, and still runs to its end.
func TestLogLimit(t *testing.T) {
	st := openStore(t)
	r := runner.New(runner.Deps{Source: &fakeSource{write: 100_000}, Store: st},
		runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir(), LogLimit: 4 << 10})
	b, err := r.Run(context.Background(), demo, "test", inputs(t, st, demo, 0, nil, false))
	must(t, err)
	if b.Status != pipeline.StatusFailed || b.Reason != "the fake checkout ends here" {
		t.Fatalf("build %+v: want failed by the fake checkout, which must run to its end", b)
	}
	log := readLog(t, st, b.ID, pipeline.StageCheckout)
	kept, rest, found := strings.Cut(log, "\n[hoist] log cut: this stage wrote more than 4 KB; the rest was dropped\n")
	if !found {
		t.Fatalf("no marker in the log (%d bytes): ...%s", len(log), log[max(0, len(log)-300):])
	}
	if len(kept) != 4<<10 || strings.Trim(kept, "x\n") != "" {
		t.Errorf("kept %d bytes before the marker, want 4096 of output", len(kept))
	}
	if rest != "\ncheckout failed: the fake checkout ends here\n" {
		t.Errorf("after the marker: %q, want only the failure note", rest)
	}
}

// TestExecuteClaimed runs a build taken from the queue: the same build is
// finished, not a new one.
func TestExecuteClaimed(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	must(t, st.PutProject(ctx, demo))
	queued, _, err := st.Enqueue(ctx, demo.Key(), "manual: alice", time.Now())
	must(t, err)
	claimed, err := st.Claim(ctx, time.Now())
	must(t, err)
	r := runner.New(runner.Deps{Source: &fakeSource{write: 10}, Store: st}, runner.Options{WorkDir: t.TempDir()})
	b, err := r.Execute(ctx, demo, claimed, inputs(t, st, demo, claimed.ID, nil, false))
	must(t, err)
	got, err := st.Build(ctx, queued.ID)
	must(t, err)
	if got.ID != queued.ID || got.Number != 1 || got.Status != pipeline.StatusFailed || got.FailedStage != pipeline.StageCheckout || got.Cause != "manual: alice" || got.Finished.IsZero() {
		t.Errorf("stored build %+v (returned %+v), want build %d failed at checkout", got, b, queued.ID)
	}
	if all, _ := st.Builds(ctx, demo.Key(), 0); len(all) != 1 {
		t.Errorf("%d builds stored, want 1", len(all))
	}
}

// TestCancel cancels a build while its checkout runs, with a cause, and
// before it starts.
func TestCancel(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	src := &fakeSource{write: 10, hang: true, started: make(chan struct{})}
	r := runner.New(runner.Deps{Source: src, Store: st}, runner.Options{WorkDir: t.TempDir()})
	bctx, cancel := context.WithCancelCause(ctx)
	go func() {
		<-src.started
		cancel(errors.New("cancelled by alice"))
	}()
	b, err := r.Run(bctx, demo, "test", inputs(t, st, demo, 0, nil, false))
	must(t, err)
	if b.Status != pipeline.StatusCancelled || b.Reason != "cancelled by alice" || b.FailedStage != pipeline.StageCheckout {
		t.Errorf("build %+v, want cancelled by alice at checkout", b)
	}
	stages, err := st.Stages(ctx, b.ID)
	must(t, err)
	for _, s := range stages {
		want, why := pipeline.StatusSkipped, "the build was cancelled"
		if s.Name == pipeline.StageCheckout {
			want, why = pipeline.StatusCancelled, "cancelled by alice"
		}
		if s.Status != want || s.Error != why {
			t.Errorf("stage %s: %s %q, want %s %q", s.Name, s.Status, s.Error, want, why)
		}
	}
	if log := readLog(t, st, b.ID, pipeline.StageCheckout); !strings.HasSuffix(log, "\ncheckout cancelled: cancelled by alice\n") {
		t.Errorf("checkout log does not end with the cancel note: %q", log)
	}

	queued, _, err := st.Enqueue(ctx, demo.Key(), "test", time.Now())
	must(t, err)
	claimed, err := st.Claim(ctx, time.Now())
	must(t, err)
	stopped, stop := context.WithCancelCause(ctx)
	stop(errors.New("server stopping"))
	b, err = r.Execute(stopped, demo, claimed, inputs(t, st, demo, claimed.ID, nil, false))
	must(t, err)
	if b.Status != pipeline.StatusCancelled || b.Reason != "cancelled: server stopping" || b.FailedStage != "" {
		t.Errorf("build cancelled before it started: %+v", b)
	}
	if got, _ := st.Build(ctx, queued.ID); got.Status != pipeline.StatusCancelled {
		t.Errorf("stored build %+v, want cancelled", got)
	}
}
