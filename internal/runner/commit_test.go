package runner_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// commitSpy reads the stored build when its checkout stage ends.
type commitSpy struct {
	st *sqlite.Store

	mu     sync.Mutex
	stored pipeline.Build
}

func (s *commitSpy) StageStarted(pipeline.Build, pipeline.StageName)   {}
func (s *commitSpy) Output(pipeline.Build, pipeline.StageName, []byte) {}
func (s *commitSpy) StageFinished(b pipeline.Build, st pipeline.Stage) {
	if st.Name != pipeline.StageCheckout {
		return
	}
	stored, err := s.st.Build(context.Background(), b.ID)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.stored = stored
	s.mu.Unlock()
}

// TestCommitRecordedAtCheckout runs a build queued by a push of one commit
// while the branch is at another: the commit checked out is stored on the
// running build as soon as the checkout knows it, and the log says that it
// is not the one queued.
func TestCommitRecordedAtCheckout(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	must(t, st.PutProject(ctx, demo))
	const pushed, head = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	_, _, err := st.EnqueueCommit(ctx, demo.Key(), pushed, "", pipeline.PushCause(pushed, "main"), time.Now())
	must(t, err)
	claimed, err := st.Claim(ctx, time.Now())
	must(t, err)
	spy := &commitSpy{st: st}
	r := runner.New(runner.Deps{Source: &fakeSource{commit: head}, Store: st}, runner.Options{WorkDir: t.TempDir(), Observer: spy})
	b, err := r.Execute(ctx, demo, claimed, inputs(t, st, demo, claimed.ID, nil, false))
	must(t, err)
	spy.mu.Lock()
	during := spy.stored
	spy.mu.Unlock()
	if during.Status != pipeline.StatusRunning || during.Commit != head {
		t.Errorf("stored build while it ran: %s at %q, want running at %s", during.Status, during.Commit, head)
	}
	if b.Commit != head {
		t.Errorf("finished build at %q, want %s", b.Commit, head)
	}
	log := readLog(t, st, b.ID, pipeline.StageCheckout)
	if want := "main is at 2222222 now, not at 1111111 as when this build was queued: building 2222222\n"; !strings.Contains(log, want) {
		t.Errorf("checkout log %q does not say %q", log, want)
	}
}
