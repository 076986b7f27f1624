package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/server"
	"github.com/hoistci/hoist/internal/source"
)

// triggerFlags say what starts builds besides a user: git webhooks, polls
// and schedules.
type triggerFlags struct {
	secrets     server.WebhookSecrets // Shared is --webhook-secret
	poll        time.Duration
	pollSkip    time.Duration
	schedule    string
	rescan      string
	pollSkipSet bool
}

func (f *triggerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.secrets.GitHub, "webhook-secret-github", "", "secret of POST /hooks/github alone (default: --webhook-secret)")
	fs.StringVar(&f.secrets.GitLab, "webhook-secret-gitlab", "", "secret token of POST /hooks/gitlab alone (default: --webhook-secret)")
	fs.StringVar(&f.secrets.Gitea, "webhook-secret-gitea", "", "secret of POST /hooks/gitea (Gitea, Forgejo) alone (default: --webhook-secret)")
	fs.StringVar(&f.secrets.Generic, "webhook-secret-generic", "", "secret of POST /hooks/generic alone (default: --webhook-secret)")
	fs.DurationVar(&f.poll, "poll-interval", 10*time.Minute, "how often to ask every project's repository for new commits (git ls-remote), ±10%; 0: never")
	fs.DurationVar(&f.pollSkip, "poll-skip-after-webhook", 0, "do not poll a repository a webhook reached within this long (default: --poll-interval)")
	fs.StringVar(&f.rescan, "rescan", "@weekly", `re-scan every delivered image on this schedule, without rebuilding ("off": never)`)
	fs.StringVar(&f.schedule, "schedule", "", `rebuild every project on this schedule: "@weekly", "@daily" or 5 cron fields ("0 3 * * 1"); projects may have their own "schedule:" in the index`)
}

// check validates the flags after parsing; shared is --webhook-secret (or
// $HOIST_WEBHOOK_SECRET).
func (f *triggerFlags) check(fs *flag.FlagSet, shared string, stderr io.Writer) error {
	f.secrets.Shared = shared
	fs.Visit(func(fl *flag.Flag) { f.pollSkipSet = f.pollSkipSet || fl.Name == "poll-skip-after-webhook" })
	if f.schedule != "" {
		if err := sched.ParseSchedule(f.schedule); err != nil {
			fmt.Fprintf(stderr, "hoist serve: --schedule: %v\n", err)
			return exitError(2)
		}
	}
	if f.rescan != "off" {
		if err := sched.ParseSchedule(f.rescan); err != nil {
			fmt.Fprintf(stderr, "hoist serve: --rescan: %v\n", err)
			return exitError(2)
		}
	}
	if f.poll < 0 || f.pollSkip < 0 {
		fmt.Fprintln(stderr, "hoist serve: --poll-interval and --poll-skip-after-webhook must not be negative")
		return exitError(2)
	}
	return nil
}

// triggerStore is what the triggers read projects from and queue builds in.
type triggerStore interface {
	sched.PushStore
}

// triggers are the webhook pushes, the poller and the scheduler of hoist
// serve.
type triggers struct {
	pushes *sched.Pushes
	poller *sched.Poller
	cron   *sched.Scheduler
}

// newTriggers wires the triggers to the dispatcher d.
func newTriggers(f *triggerFlags, st triggerStore, d *sched.Dispatcher, log *slog.Logger) (*triggers, error) {
	pushes := sched.NewPushes(st, d.Wake, log)
	skip := f.pollSkip // 0: the interval
	if f.pollSkipSet && skip == 0 {
		skip = -1 // asked for: poll every repository, webhook or not
	}
	poller := sched.NewPoller(st, source.New(), pushes, sched.PollOptions{Interval: f.poll, SkipAfterWebhook: skip, Logger: log})
	cron, err := sched.NewScheduler(st, d, sched.ScheduleOptions{Global: f.schedule, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("--schedule: %w", err)
	}
	return &triggers{pushes: pushes, poller: poller, cron: cron}, nil
}

// run polls and fires schedules until ctx ends, each on one server at a
// time among those sharing the database.
func (t *triggers) run(ctx context.Context, lead *leader) {
	lead.run(ctx, "poll", t.poller.Run)
	lead.run(ctx, "schedule", t.cron.Run)
}
