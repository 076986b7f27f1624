package notify

import (
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// failedBuild stores a build of p that failed in the build stage after
// writing lines log lines, and returns its notification.
func failedBuild(t *testing.T, st *sqlite.Store, p pipeline.Project, lines int) pipeline.Notification {
	t.Helper()
	b := pipeline.Build{Project: p.Key(), Status: pipeline.StatusFailed, Cause: "git push abc1234 to main",
		Commit: "abc1234def5678abc1234def5678abc1234def56", FailedStage: pipeline.StageBuild,
		Reason: "The command '/bin/sh -c false' returned a non-zero code: 1"}
	if err := st.CreateBuild(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&log, "step %d: naïve output = %d%%\n", i, i)
	}
	// Written in pieces that split lines, as the runner's flushes do.
	s := log.String()
	for len(s) > 0 {
		n := min(len(s), 37)
		if err := st.AppendLog(t.Context(), b.ID, pipeline.StageBuild, []byte(s[:n])); err != nil {
			t.Fatal(err)
		}
		s = s[n:]
	}
	return pipeline.Notification{Event: pipeline.NotifyFailed, Project: p, Build: b,
		URL: "http://hoist.example:8080" + pipeline.BuildPagePath(b)}
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// parse reads a received mail: its headers and its decoded body.
func parse(t *testing.T, m testenv.Mail) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("the mail does not parse: %v\n%s", err, m.Data)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding %q", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg, strings.ReplaceAll(string(body), "\r\n", "\n")
}

func subject(t *testing.T, msg *mail.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEmailFailure(t *testing.T) {
	srv := testenv.SMTPServer(t, testenv.SMTPOptions{})
	st := openStore(t)
	p := pipeline.Project{AppID: "centos", JobID: "httpd", Tag: "2.4", NotifyEmail: "ops@example.com"}
	n := failedBuild(t, st, p, 50)
	e := NewEmail(EmailOptions{Addr: srv.Addr, From: "hoist@example.com"}, st)
	rcpts := e.Recipients(n)
	if len(rcpts) != 1 || rcpts[0] != "ops@example.com" {
		t.Fatalf("Recipients = %q", rcpts)
	}
	if err := e.Send(t.Context(), n, rcpts[0]); err != nil {
		t.Fatalf("Send: %v", err)
	}
	m := srv.Wait(t, 1, 5*time.Second)[0]
	if m.From != "hoist@example.com" || len(m.To) != 1 || m.To[0] != "ops@example.com" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	msg, body := parse(t, m)
	if got, want := subject(t, msg), "[hoist] FAILED: centos/httpd:2.4 (build)"; got != want {
		t.Errorf("Subject %q, want %q", got, want)
	}
	if to := msg.Header.Get("To"); to != "ops@example.com" {
		t.Errorf("To %q", to)
	}
	for _, part := range []string{
		"Cause:  git push abc1234 to main\n",
		"Commit: abc1234def5678abc1234def5678abc1234def56\n",
		"Stage:  build\n",
		"Reason: The command '/bin/sh -c false' returned a non-zero code: 1\n",
		"Build:  http://hoist.example:8080/p/centos/httpd:2.4/builds/1\n",
	} {
		if !strings.Contains(body, part) {
			t.Errorf("the body lacks %q:\n%s", part, body)
		}
	}
	var want strings.Builder
	want.WriteString("The last 30 lines of the build log:\n\n")
	for i := 21; i <= 50; i++ {
		fmt.Fprintf(&want, "    step %d: naïve output = %d%%\n", i, i)
	}
	_, tailText, found := strings.Cut(body, "\nThe last")
	if !found || "The last"+tailText != want.String() {
		t.Errorf("the log tail is\n%s\nwant\n%s", tailText, want.String())
	}
}

func TestEmailShortLogAndOtherEvents(t *testing.T) {
	srv := testenv.SMTPServer(t, testenv.SMTPOptions{})
	st := openStore(t)
	p := pipeline.Project{AppID: "library", JobID: "busybox", Tag: "latest", NotifyEmail: "a@example.com,\r\nb@example.com"}
	n := failedBuild(t, st, p, 3)
	e := NewEmail(EmailOptions{Addr: srv.Addr, From: "hoist@example.com"}, st)
	if r := e.Recipients(n); len(r) != 2 || r[1] != "b@example.com" {
		t.Fatalf("Recipients = %q", r)
	}
	if err := e.Send(t.Context(), n, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	n.Event, n.Build.Status, n.Build.Digest = pipeline.NotifyRecovered, pipeline.StatusSucceeded, "sha256:0123"
	if err := e.Send(t.Context(), n, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	n.Event = pipeline.NotifySucceeded
	if err := e.Send(t.Context(), n, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	mails := srv.Wait(t, 3, 5*time.Second)
	msg, body := parse(t, mails[0])
	if s := subject(t, msg); s != "[hoist] FAILED: busybox:latest (build)" {
		t.Errorf("Subject %q", s)
	}
	if !strings.Contains(body, "The last 3 lines of the build log:\n\n    step 1:") {
		t.Errorf("body:\n%s", body)
	}
	msg, body = parse(t, mails[1])
	if s := subject(t, msg); s != "[hoist] RECOVERED: busybox:latest" {
		t.Errorf("Subject %q", s)
	}
	if strings.Contains(body, "The last") || !strings.Contains(body, "Digest: sha256:0123") ||
		!strings.Contains(body, "/p/library/busybox/builds/1") {
		t.Errorf("recovery body:\n%s", body)
	}
	if msg, _ := parse(t, mails[2]); subject(t, msg) != "[hoist] OK: busybox:latest" {
		t.Errorf("Subject %q", subject(t, msg))
	}
}

func TestEmailStartTLSAndAuth(t *testing.T) {
	srv := testenv.SMTPServer(t, testenv.SMTPOptions{TLS: true, User: "hoist", Password: "s3cret"})
	st := openStore(t)
	n := failedBuild(t, st, pipeline.Project{AppID: "a", JobID: "x", Tag: "latest", NotifyEmail: "o@example.com"}, 1)
	tlsCfg := &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}
	bad := NewEmail(EmailOptions{Addr: srv.Addr, From: "h@example.com", User: "hoist", Password: "wrong", TLS: tlsCfg}, st)
	if err := bad.Send(t.Context(), n, "o@example.com"); err == nil || !strings.Contains(err.Error(), "authenticating as hoist") {
		t.Errorf("Send with a wrong password: %v", err)
	}
	e := NewEmail(EmailOptions{Addr: srv.Addr, From: "h@example.com", User: "hoist", Password: "s3cret", TLS: tlsCfg}, st)
	if err := e.Send(t.Context(), n, "o@example.com"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	m := srv.Wait(t, 1, 5*time.Second)[0]
	if !m.TLS || m.User != "hoist" {
		t.Errorf("TLS %v, user %q; want STARTTLS and user hoist", m.TLS, m.User)
	}
}

func TestEmailUnreachable(t *testing.T) {
	e := NewEmail(EmailOptions{Addr: "127.0.0.1:1", From: "h@example.com"}, nil)
	n := pipeline.Notification{Event: pipeline.NotifyRecovered, Project: pipeline.Project{AppID: "a", JobID: "x", Tag: "latest"}}
	err := e.Send(t.Context(), n, "o@example.com")
	if err == nil || !strings.Contains(err.Error(), "mailing o@example.com through 127.0.0.1:1") {
		t.Errorf("Send = %v", err)
	}
}
