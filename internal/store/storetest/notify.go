package storetest

import (
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// NotifyBackend is what notifications need of a backend.
type NotifyBackend interface {
	pipeline.Store
	pipeline.NotifyStore
}

// RunNotify runs the notification part of the suite: a project's
// notify-success opt-in, the notify state swap and the delivery records.
// open must return a new, empty store for each call.
func RunNotify(t *testing.T, open func(t *testing.T) NotifyBackend) {
	tests := []struct {
		name string
		f    func(t *testing.T, s NotifyBackend)
	}{
		{"Project/NotifySuccess", testProjectNotifySuccess},
		{"NotifyState/Swap", testNotifyStateSwap},
		{"NotifyState/ConcurrentSwap", testNotifyStateConcurrent},
		{"Notification/RecordUpdateList", testNotificationRecords},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.f(t, s)
		})
	}
}

func testProjectNotifySuccess(t *testing.T, s NotifyBackend) {
	p := fullProject()
	p.NotifySuccess = true
	must(t, "PutProject", s.PutProject(ctx(t), p))
	got, err := s.Project(ctx(t), p.Key())
	must(t, "Project", err)
	if !got.NotifySuccess {
		t.Errorf("NotifySuccess = false after storing true")
	}
	p.NotifySuccess = false
	must(t, "PutProject", s.PutProject(ctx(t), p))
	if got, _ := s.Project(ctx(t), p.Key()); got.NotifySuccess {
		t.Errorf("NotifySuccess = true after replacing it with false")
	}
}

func testNotifyStateSwap(t *testing.T, s NotifyBackend) {
	const key = "a/x:latest"
	steps := []struct {
		next      pipeline.NotifyState
		wantPrev  pipeline.NotifyHealth
		wantStale bool
	}{
		{pipeline.NotifyState{Project: key, Health: pipeline.HealthFailing, BuildID: 1, Updated: at(1, 5)}, pipeline.HealthUnknown, false},
		{pipeline.NotifyState{Project: key, Health: pipeline.HealthFailing, BuildID: 2, Updated: at(2, 5)}, pipeline.HealthFailing, false},
		{pipeline.NotifyState{Project: key, Health: pipeline.HealthOK, BuildID: 1, Updated: at(3, 5)}, pipeline.HealthFailing, true},
		{pipeline.NotifyState{Project: key, Health: pipeline.HealthOK, BuildID: 3, Updated: at(4, 5)}, pipeline.HealthFailing, false},
		{pipeline.NotifyState{Project: "b/y:1", Health: pipeline.HealthOK, BuildID: 4}, pipeline.HealthUnknown, false},
	}
	for i, st := range steps {
		prev, stale, err := s.SwapNotifyState(ctx(t), st.next)
		must(t, "SwapNotifyState", err)
		if prev.Health != st.wantPrev || stale != st.wantStale {
			t.Errorf("step %d: prev %q stale %v, want %q %v", i, prev.Health, stale, st.wantPrev, st.wantStale)
		}
	}
	prev, _, err := s.SwapNotifyState(ctx(t), pipeline.NotifyState{Project: key, Health: pipeline.HealthOK, BuildID: 9})
	must(t, "SwapNotifyState", err)
	want := pipeline.NotifyState{Project: key, Health: pipeline.HealthOK, BuildID: 3, Updated: at(4, 5)}
	if d := diff(want, prev); d != "" {
		t.Errorf("stored state (-want +got):\n%s", d)
	}
}

// testNotifyStateConcurrent swaps one project to failing from many
// goroutines: exactly one sees it healthy before.
func testNotifyStateConcurrent(t *testing.T, s NotifyBackend) {
	var mu sync.Mutex
	first := 0
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			prev, _, err := s.SwapNotifyState(ctx(t), pipeline.NotifyState{Project: "a/x:latest",
				Health: pipeline.HealthFailing, BuildID: int64(i + 1)})
			if err != nil {
				t.Errorf("SwapNotifyState: %v", err)
				return
			}
			if prev.Health != pipeline.HealthFailing {
				mu.Lock()
				first++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != 1 {
		t.Errorf("%d swaps saw the project not failing yet, want exactly 1", first)
	}
}

func testNotificationRecords(t *testing.T, s NotifyBackend) {
	b := create(t, s, "a/x:latest")
	r := pipeline.NotificationRecord{BuildID: b.ID, Project: b.Project, Event: pipeline.NotifyFailed,
		Channel: "email", Recipient: "dev@example.com", Status: pipeline.NotificationPending,
		Created: at(1, 1), Updated: at(1, 1)}
	must(t, "PutNotification", s.PutNotification(ctx(t), &r))
	if r.ID == 0 {
		t.Fatal("PutNotification did not set ID")
	}
	r.Status, r.Attempts, r.LastError, r.Updated = pipeline.NotificationFailed, 5, "connection refused", at(9, 9)
	must(t, "PutNotification", s.PutNotification(ctx(t), &r))
	other := pipeline.NotificationRecord{BuildID: b.ID, Project: b.Project, Event: pipeline.NotifyFailed,
		Channel: "webhook", Recipient: "https://h/…", Status: pipeline.NotificationSent, Attempts: 1}
	must(t, "PutNotification", s.PutNotification(ctx(t), &other))
	got, err := s.Notifications(ctx(t), b.ID)
	must(t, "Notifications", err)
	if d := diff([]pipeline.NotificationRecord{r, other}, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	missing := pipeline.NotificationRecord{ID: 999, BuildID: b.ID}
	mustNotFound(t, "PutNotification of a missing record", s.PutNotification(ctx(t), &missing))
	if got, err := s.Notifications(ctx(t), b.ID+100); err != nil || len(got) != 0 {
		t.Errorf("Notifications of another build = %v, %v; want none", got, err)
	}
}
