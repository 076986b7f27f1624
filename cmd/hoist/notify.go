package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/hoistci/hoist/internal/notify"
	"github.com/hoistci/hoist/internal/notifypolicy"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
)

// The notification parts fit what drives them.
var (
	_ sched.BuildObserver = (*notifypolicy.Service)(nil)
	_ sched.Runner        = notifyingRunner{}
)

// defaultServeAddr is where hoist serve answers by default: hoist run's
// notifications link there unless --public-url says otherwise.
const defaultServeAddr = "127.0.0.1:8080"

// warnLogger logs warnings and errors to w, for commands that log nothing
// else.
func warnLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// notifyFlushTimeout is how long a stopping hoist waits for notifications
// still being delivered.
const notifyFlushTimeout = 10 * time.Second

// notifyFlags choose how people are told about builds.
type notifyFlags struct {
	smtpAddr, smtpFrom string
	smtpUser, smtpPass string
	publicURL          string
	success            bool
	webhooks, slack    listFlag

	channels []pipeline.Notifier // made by check, but for the email, which needs the store
}

// register adds the notification flags to fs.
func (n *notifyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.smtpAddr, "smtp-addr", "", "mail failures to each project's notify-email through this SMTP server HOST:PORT")
	fs.StringVar(&n.smtpFrom, "smtp-from", "", "sender address of notification mails (needed with --smtp-addr)")
	fs.StringVar(&n.smtpUser, "smtp-user", "", "authenticate to the SMTP server as this user (password in $HOIST_SMTP_PASSWORD)")
	fs.StringVar(&n.smtpPass, "smtp-password", "", "SMTP password (default $HOIST_SMTP_PASSWORD; prefer it, other users cannot see it)")
	fs.StringVar(&n.publicURL, "public-url", "", "the URL people reach this hoist at, for links in notifications (default http://ADDR)")
	fs.BoolVar(&n.success, "notify-success", false, "also notify of successful builds, for every project")
	fs.Var(&n.webhooks, "notify-webhook", "POST a JSON notice of each notification to this URL (repeatable)")
	fs.Var(&n.slack, "notify-slack", "post each notification to this Slack incoming-webhook URL (repeatable)")
}

// check validates the flags after parsing and prepares the webhooks; its
// errors say which flag to fix.
func (n *notifyFlags) check(stderr io.Writer) error {
	fail := func(format string, args ...any) error {
		fmt.Fprintf(stderr, format+"\n", args...)
		return exitError(2)
	}
	if n.smtpPass == "" {
		n.smtpPass = os.Getenv("HOIST_SMTP_PASSWORD")
	}
	if n.smtpAddr != "" {
		if _, _, err := net.SplitHostPort(n.smtpAddr); err != nil {
			return fail("--smtp-addr %q: want HOST:PORT, e.g. mail.example.com:587", n.smtpAddr)
		}
		if n.smtpFrom == "" {
			return fail("--smtp-addr needs --smtp-from, the address notification mails come from")
		}
	}
	if n.publicURL != "" {
		if u, err := url.Parse(n.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail("--public-url %q: want http(s)://host[:port][/path]", n.publicURL)
		}
	}
	for _, raw := range n.webhooks {
		w, err := notify.NewWebhook(raw, nil)
		if err != nil {
			return fail("--notify-webhook: %v", err)
		}
		n.channels = append(n.channels, w)
	}
	for _, raw := range n.slack {
		w, err := notify.NewSlack(raw, nil)
		if err != nil {
			return fail("--notify-slack: %v", err)
		}
		n.channels = append(n.channels, w)
	}
	return nil
}

// notifyStore is the store notifications read projects and logs from and
// keep their state in.
type notifyStore interface {
	notifypolicy.Store
	pipeline.LogStore
}

// service starts the notification service; addr is where the web UI
// answers, for links when --public-url is not given.
func (n *notifyFlags) service(st notifyStore, addr string, log *slog.Logger) *notifypolicy.Service {
	channels := n.channels
	if n.smtpAddr != "" {
		email := notify.NewEmail(notify.EmailOptions{Addr: n.smtpAddr, From: n.smtpFrom, User: n.smtpUser, Password: n.smtpPass}, st)
		channels = append([]pipeline.Notifier{email}, channels...)
	}
	public := n.publicURL
	if public == "" {
		public = "http://" + addr
	}
	return notifypolicy.New(st, channels, notifypolicy.Options{PublicURL: public, NotifySuccess: n.success, Logger: log})
}

// flushNotifications stops svc, waiting a while for deliveries under way.
func flushNotifications(svc *notifypolicy.Service, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), notifyFlushTimeout)
	defer cancel()
	if err := svc.Close(ctx); err != nil {
		log.Warn("some notifications were not delivered before stopping", "err", err)
	}
}

// buildObservers tells every observer about every finished build.
type buildObservers []sched.BuildObserver

// BuildFinished calls each observer in turn.
func (o buildObservers) BuildFinished(b pipeline.Build) {
	for _, x := range o {
		x.BuildFinished(b)
	}
}

// notifyingRunner is hoist run's sched.Runner, telling the notification
// service about every build it ends.
type notifyingRunner struct {
	sched.Runner
	svc *notifypolicy.Service
}

// Run runs the build, then queues its notification.
func (r notifyingRunner) Run(ctx context.Context, p pipeline.Project, cause string, in pipeline.BuildInputs) (pipeline.Build, error) {
	b, err := r.Runner.Run(ctx, p, cause, in)
	if err == nil {
		r.svc.Finished(p, b)
	}
	return b, err
}

// Skip records the skip and passes it on; the policy notifies no skip, and
// no skip counts as a recovery.
func (r notifyingRunner) Skip(ctx context.Context, p pipeline.Project, cause, reason string) (pipeline.Build, error) {
	b, err := r.Runner.Skip(ctx, p, cause, reason)
	if err == nil {
		r.svc.Finished(p, b)
	}
	return b, err
}
