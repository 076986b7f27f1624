package notifypolicy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/notify"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// scriptedExec is the seam where builds would run: each build of a
// project ends with the next status in its script.
type scriptedExec struct {
	st   *sqlite.Store
	mu   sync.Mutex
	next []pipeline.Status
	done chan pipeline.Build
}

func (e *scriptedExec) Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, _ pipeline.BuildInputs) (pipeline.Build, error) {
	e.mu.Lock()
	b.Status, e.next = e.next[0], e.next[1:]
	e.mu.Unlock()
	if b.Status == pipeline.StatusFailed {
		b.FailedStage, b.Reason = pipeline.StageTest, "check starts failed"
		if err := e.st.AppendLog(ctx, b.ID, pipeline.StageTest, []byte("container exited with code 3\n")); err != nil {
			return b, err
		}
	}
	b.Finished = time.Now().UTC()
	return b, e.st.UpdateBuild(context.WithoutCancel(ctx), b)
}

// TestDispatcherNotifies runs builds through a real dispatcher whose
// observer is the service, as hoist serve wires them: fail, fail, fail,
// succeed sends two mails.
func TestDispatcherNotifies(t *testing.T) {
	smtp := testenv.SMTPServer(t, testenv.SMTPOptions{})
	st := openStore(t)
	svc := New(st, []pipeline.Notifier{notify.NewEmail(notify.EmailOptions{Addr: smtp.Addr, From: "h@example.com"}, st)},
		Options{PublicURL: "http://127.0.0.1:8080"})
	exec := &scriptedExec{st: st, next: []pipeline.Status{pipeline.StatusFailed, pipeline.StatusFailed, pipeline.StatusFailed, pipeline.StatusSucceeded}}
	d := sched.NewDispatcher(st, exec, sched.DispatcherOptions{Poll: 10 * time.Millisecond, Observer: svc})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go d.Run(ctx)
	p := putProject(t, st, "web", false)
	for i := range 4 {
		b, _, err := d.Trigger(ctx, p.Key(), "manual by alice")
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, st, b.ID)
		if i == 0 {
			smtp.Wait(t, 1, 5*time.Second)
		}
	}
	mails := smtp.Wait(t, 2, 5*time.Second)
	cancel()
	closeService(t, svc)
	want := []string{
		"web@example.com [hoist] FAILED: team/web:latest (test)",
		"web@example.com [hoist] RECOVERED: team/web:latest",
	}
	if d := cmp.Diff(want, subjects(t, smtp.Mails())); d != "" {
		t.Errorf("mails (-want +got):\n%s", d)
	}
	if body := string(mails[0].Data); !contains(body, "container exited with code 3", "http://127.0.0.1:8080/p/team/web/builds/1") {
		t.Errorf("the failure mail lacks its log line or link:\n%s", body)
	}
}

func waitDone(t *testing.T, st *sqlite.Store, id int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := st.Build(t.Context(), id)
		if err == nil && b.Status.Done() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %d did not finish: %+v, %v", id, b, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
