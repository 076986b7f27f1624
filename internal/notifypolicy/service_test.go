package notifypolicy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/notify"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func putProject(t *testing.T, st *sqlite.Store, job string, optIn bool) pipeline.Project {
	t.Helper()
	p := pipeline.Project{AppID: "team", JobID: job, Tag: "latest", GitURL: "u",
		NotifyEmail: job + "@example.com", NotifySuccess: optIn}
	if err := st.PutProject(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// finish stores a finished build of p and tells svc about it, as the
// dispatcher does.
func finish(t *testing.T, st *sqlite.Store, svc *Service, p pipeline.Project, status pipeline.Status, reason string) pipeline.Build {
	t.Helper()
	b := pipeline.Build{Project: p.Key(), Status: status, Reason: reason, Cause: "manual by alice"}
	if status == pipeline.StatusFailed {
		b.FailedStage = pipeline.StageBuild
	}
	if err := st.CreateBuild(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	svc.BuildFinished(b)
	return b
}

func closeService(t *testing.T, svc *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := svc.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// subjects lists the subjects of mails, sorted, with their recipient.
func subjects(t *testing.T, mails []testenv.Mail) []string {
	t.Helper()
	var out []string
	for _, m := range mails {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(m.To, ",")+" "+msg.Header.Get("Subject"))
	}
	slices.Sort(out)
	return out
}

func records(t *testing.T, st *sqlite.Store, b pipeline.Build) []pipeline.NotificationRecord {
	t.Helper()
	rs, err := st.Notifications(t.Context(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestCoalesceAndRecover(t *testing.T) {
	smtp := testenv.SMTPServer(t, testenv.SMTPOptions{})
	st := openStore(t)
	email := notify.NewEmail(notify.EmailOptions{Addr: smtp.Addr, From: "hoist@example.com"}, st)
	svc := New(st, []pipeline.Notifier{email}, Options{PublicURL: "http://hoist.example/"})
	web := putProject(t, st, "web", false)
	fail1 := finish(t, st, svc, web, pipeline.StatusFailed, "boom")
	fail2 := finish(t, st, svc, web, pipeline.StatusFailed, "boom")
	finish(t, st, svc, web, pipeline.StatusFailed, "boom")
	finish(t, st, svc, web, pipeline.StatusSkipped, "parent team/base:latest failed")
	finish(t, st, svc, web, pipeline.StatusCancelled, "cancelled by alice")
	ok1 := finish(t, st, svc, web, pipeline.StatusSucceeded, "")
	ok2 := finish(t, st, svc, web, pipeline.StatusSucceeded, "")
	closeService(t, svc)

	want := []string{
		"web@example.com [hoist] FAILED: team/web:latest (build)",
		"web@example.com [hoist] RECOVERED: team/web:latest",
	}
	if d := cmp.Diff(want, subjects(t, smtp.Mails())); d != "" {
		t.Errorf("mails (-want +got):\n%s", d)
	}
	if rs := records(t, st, fail1); len(rs) != 1 || rs[0].Status != pipeline.NotificationSent ||
		rs[0].Attempts != 1 || rs[0].Channel != "email" || rs[0].Recipient != "web@example.com" || rs[0].Event != pipeline.NotifyFailed {
		t.Errorf("records of the first failure: %+v", rs)
	}
	if rs := records(t, st, fail2); len(rs) != 0 {
		t.Errorf("records of the second failure: %+v, want none", rs)
	}
	if rs := records(t, st, ok1); len(rs) != 1 || rs[0].Event != pipeline.NotifyRecovered {
		t.Errorf("records of the recovery: %+v", rs)
	}
	if rs := records(t, st, ok2); len(rs) != 0 {
		t.Errorf("records of a success without opt-in: %+v, want none", rs)
	}
	if !strings.Contains(string(smtp.Mails()[0].Data), "http://hoist.example/p/team/web/builds/") {
		t.Errorf("no link to the build page in\n%s", smtp.Mails()[0].Data)
	}
}

func TestSuccessOptIn(t *testing.T) {
	smtp := testenv.SMTPServer(t, testenv.SMTPOptions{})
	st := openStore(t)
	email := notify.NewEmail(notify.EmailOptions{Addr: smtp.Addr, From: "hoist@example.com"}, st)
	svc := New(st, []pipeline.Notifier{email}, Options{})
	finish(t, st, svc, putProject(t, st, "quiet", false), pipeline.StatusSucceeded, "")
	finish(t, st, svc, putProject(t, st, "loud", true), pipeline.StatusSucceeded, "")
	closeService(t, svc)
	if d := cmp.Diff([]string{"loud@example.com [hoist] OK: team/loud:latest"}, subjects(t, smtp.Mails())); d != "" {
		t.Errorf("mails with a per-project opt-in (-want +got):\n%s", d)
	}

	smtp = testenv.SMTPServer(t, testenv.SMTPOptions{})
	email = notify.NewEmail(notify.EmailOptions{Addr: smtp.Addr, From: "hoist@example.com"}, st)
	svc = New(st, []pipeline.Notifier{email}, Options{NotifySuccess: true})
	finish(t, st, svc, putProject(t, st, "quiet", false), pipeline.StatusSucceeded, "")
	closeService(t, svc)
	if d := cmp.Diff([]string{"quiet@example.com [hoist] OK: team/quiet:latest"}, subjects(t, smtp.Mails())); d != "" {
		t.Errorf("mails with --notify-success (-want +got):\n%s", d)
	}
}

// flaky answers 500 to the first failures POSTs, then 200.
func flaky(t *testing.T, failures int32) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= failures {
			http.Error(w, "try later", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestWebhookRetried(t *testing.T) {
	srv, calls := flaky(t, 2)
	st := openStore(t)
	hook, err := notify.NewWebhook(srv.URL+"/hook", nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, []pipeline.Notifier{hook}, Options{Backoff: 20 * time.Millisecond})
	start := time.Now()
	b := finish(t, st, svc, putProject(t, st, "web", false), pipeline.StatusFailed, "boom")
	closeService(t, svc)
	if n := calls.Load(); n != 3 {
		t.Errorf("the receiver was called %d times, want 3", n)
	}
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("3 attempts took %v: want backoff of 20 ms then 40 ms between them", took)
	}
	rs := records(t, st, b)
	if len(rs) != 1 || rs[0].Status != pipeline.NotificationSent || rs[0].Attempts != 3 ||
		rs[0].Channel != "webhook" || rs[0].LastError != "" {
		t.Errorf("records: %+v; want one sent after 3 attempts", rs)
	}
}

func TestUndeliverableNeverTouchesTheBuild(t *testing.T) {
	srv, calls := flaky(t, 1<<30)
	st := openStore(t)
	slack, err := notify.NewSlack(srv.URL+"/services/T/B/X", nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, []pipeline.Notifier{slack}, Options{Attempts: 4, Backoff: time.Millisecond})
	p := putProject(t, st, "web", false)
	b := pipeline.Build{Project: p.Key(), Status: pipeline.StatusFailed, FailedStage: pipeline.StageTest, Reason: "boom"}
	if err := st.CreateBuild(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	svc.BuildFinished(b)
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("BuildFinished took %v: it must not wait for delivery", took)
	}
	closeService(t, svc)
	if n := calls.Load(); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
	rs := records(t, st, b)
	if len(rs) != 1 || rs[0].Status != pipeline.NotificationFailed || rs[0].Attempts != 4 ||
		!strings.Contains(rs[0].LastError, "500 Internal Server Error") || rs[0].Channel != "slack" {
		t.Errorf("records: %+v; want one failed after 4 attempts", rs)
	}
	got, err := st.Build(t.Context(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(b, got); d != "" {
		t.Errorf("the build changed (-before +after):\n%s", d)
	}
}

func TestCloseGivesUpOnRetries(t *testing.T) {
	srv, _ := flaky(t, 1<<30)
	st := openStore(t)
	hook, _ := notify.NewWebhook(srv.URL, nil)
	svc := New(st, []pipeline.Notifier{hook}, Options{Backoff: time.Hour})
	b := finish(t, st, svc, putProject(t, st, "web", false), pipeline.StatusFailed, "boom")
	deadline := time.Now().Add(5 * time.Second)
	for len(records(t, st, b)) == 0 || records(t, st, b)[0].Attempts == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no attempt recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := svc.Close(ctx); err == nil {
		t.Error("Close returned nil though a delivery was still being retried")
	}
	rs := records(t, st, b)
	if len(rs) != 1 || rs[0].Status != pipeline.NotificationFailed || !strings.Contains(rs[0].LastError, "hoist stopped") {
		t.Errorf("records: %+v; want failed because hoist stopped", rs)
	}
	svc.BuildFinished(b) // after Close: dropped, no panic
}
