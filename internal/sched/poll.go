package sched

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// PollOptions configure a Poller.
type PollOptions struct {
	// Interval is the time between two polls of every repository, varied by
	// ±10% so that servers started together do not poll together. 0 or
	// less: Run returns at once.
	Interval time.Duration
	// SkipAfterWebhook leaves out repositories a webhook reached within
	// this long; 0: Interval; negative: poll them all the same.
	SkipAfterWebhook time.Duration
	// Timeout bounds one `git ls-remote`; default 1 min.
	Timeout time.Duration
	Logger  *slog.Logger // nil: discard
}

// Poller asks every tracked repository where its branches point (`git
// ls-remote`) and hands new commits to Pushes, for repositories that have
// no webhook.
type Poller struct {
	projects pipeline.ProjectStore
	heads    pipeline.HeadReader
	pushes   *Pushes
	opts     PollOptions
}

// NewPoller returns a Poller; Run starts it.
func NewPoller(projects pipeline.ProjectStore, heads pipeline.HeadReader, pushes *Pushes, opts PollOptions) *Poller {
	if opts.SkipAfterWebhook == 0 {
		opts.SkipAfterWebhook = opts.Interval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Poller{projects: projects, heads: heads, pushes: pushes, opts: opts}
}

// Run polls every Interval (±10%) until ctx ends; the first poll is one
// interval after the start. Errors are logged and never stop it.
func (p *Poller) Run(ctx context.Context) {
	if p.opts.Interval <= 0 {
		return
	}
	t := time.NewTimer(jitter(p.opts.Interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.PollOnce(ctx)
		t.Reset(jitter(p.opts.Interval))
	}
}

// jitter returns d varied at random by up to ±10%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// repoBranch is one branch of one repository, as projects name it.
type repoBranch struct {
	url, branch string
}

// PollOnce reads the head of each distinct (repository, branch) of the
// projects once, skipping repositories a webhook reached lately, and pushes
// what it finds. It returns how many builds it queued. A repository that
// cannot be read is logged and skipped.
func (p *Poller) PollOnce(ctx context.Context) int {
	projects, err := p.projects.Projects(ctx)
	if err != nil {
		p.opts.Logger.Error("polling: listing projects", "err", err)
		return 0
	}
	seen := map[repoBranch]bool{}
	queued := 0
	for _, pr := range projects {
		key := repoBranch{pipeline.NormalizeRepoURL(pr.GitURL), pr.GitBranch}
		if seen[key] || pr.GitBranch == "" || ctx.Err() != nil {
			continue
		}
		seen[key] = true
		if p.pushes.WebhookSeen(ctx, pr.GitURL, p.opts.SkipAfterWebhook) {
			continue
		}
		queued += p.poll(ctx, pr.GitURL, pr.GitBranch)
	}
	return queued
}

// poll reads one branch's head and pushes it; it returns the builds queued.
func (p *Poller) poll(ctx context.Context, url, branch string) int {
	hctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	sha, err := p.heads.Head(hctx, url, branch)
	if err != nil {
		p.opts.Logger.Warn("polling: reading the branch head", "repo", pipeline.RedactURL(url), "branch", branch, "err", err)
		return 0
	}
	pushed, err := p.pushes.Push(ctx, pipeline.Push{Repo: url, Branch: branch, Commit: sha, Via: "poll"})
	if err != nil {
		p.opts.Logger.Error("polling: queueing builds", "repo", pipeline.RedactURL(url), "branch", branch, "err", err)
	}
	n := 0
	for _, b := range pushed {
		if b.Outcome == pipeline.EnqueueQueued {
			n++
		}
	}
	return n
}
