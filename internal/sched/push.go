package sched

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// PushStore is what Pushes reads projects from and queues builds in; it
// reads the running builds and their stages to leave alone, when polling,
// a project whose running build is still checking out, and keeps when
// webhooks reached each repository, for every server sharing it.
type PushStore interface {
	pipeline.ProjectStore
	pipeline.CommitQueue
	pipeline.WebhookLog
	Active(ctx context.Context) ([]pipeline.Build, error)
	Stages(ctx context.Context, buildID int64) ([]pipeline.Stage, error)
}

// Pushes turns pushes into builds of every project on the pushed repository
// and branch, once per commit (pipeline.CommitQueue), and records in the
// store which repositories webhooks reach (pipeline.WebhookLog) so that
// the poller, on any server, can leave them be. Safe for concurrent use.
type Pushes struct {
	store PushStore
	wake  func()
	log   *slog.Logger
	now   func() time.Time
}

// NewPushes returns Pushes queueing in store; wake (may be nil) is called
// after a build was queued, for example Dispatcher.Wake.
func NewPushes(store PushStore, wake func(), log *slog.Logger) *Pushes {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if wake == nil {
		wake = func() {}
	}
	return &Pushes{store: store, wake: wake, log: log, now: time.Now}
}

// Wake wakes an idle worker to look for queued builds at once.
func (d *Dispatcher) Wake() { d.signal() }

// Push queues a build, cause "git push abc1234 to main" ("poll found
// abc1234 on main" from the poller), of every project whose repository is
// p.Repo (compared by pipeline.NormalizeRepoURL) and whose branch is
// p.Branch, unless that commit is already queued, running or built for it.
// A poll also leaves out projects whose running build is still checking
// out (the next poll sees which commit it got). It returns one PushedBuild
// per project it queued for or found a duplicate in; none means no project
// tracks that branch (or, for a poll, all were checking out). A push that
// is not from the poller counts as a webhook for WebhookSeen.
func (ps *Pushes) Push(ctx context.Context, p pipeline.Push) ([]pipeline.PushedBuild, error) {
	repo := pipeline.NormalizeRepoURL(p.Repo)
	branch := strings.TrimPrefix(p.Branch, "refs/heads/")
	if p.Via != "poll" {
		if err := ps.store.NoteWebhook(ctx, repo, ps.now()); err != nil {
			ps.log.Warn("recording a webhook: the poller may poll its repository meanwhile", "repo", pipeline.RedactURL(p.Repo), "err", err)
		}
	}
	projects, err := ps.store.Projects(ctx)
	if err != nil {
		return nil, fmt.Errorf("finding the projects of %s: %w", pipeline.RedactURL(p.Repo), err)
	}
	var out []pipeline.PushedBuild
	cause := pipeline.PushCause(p.Commit, branch)
	var busy map[string]bool
	if p.Via == "poll" {
		cause = pipeline.PollCause(p.Commit, branch)
		if busy, err = ps.checkingOut(ctx); err != nil {
			return nil, err
		}
	}
	for _, pr := range projects {
		if pr.GitBranch != branch || pipeline.NormalizeRepoURL(pr.GitURL) != repo {
			continue
		}
		if busy[pr.Key()] {
			// Its checkout may be getting this very commit; the next poll
			// sees which commit it got.
			ps.log.Debug("poll: a build of the project is checking out", "project", pr.Key(), "commit", p.Commit)
			continue
		}
		b, outcome, err := ps.store.EnqueueCommit(ctx, pr.Key(), p.Commit, p.Before, cause, ps.now())
		if err != nil {
			return out, err
		}
		level := slog.LevelInfo
		if outcome == pipeline.EnqueueDuplicate {
			level = slog.LevelDebug // every poll finds the commits it found before
		}
		ps.log.Log(ctx, level, "push", "via", p.Via, "repo", pipeline.RedactURL(p.Repo), "branch", branch, "commit", p.Commit,
			"project", pr.Key(), "build", b.Number, "outcome", outcome)
		out = append(out, pipeline.PushedBuild{Project: pr.Key(), Build: b, Outcome: outcome})
	}
	if len(out) > 0 {
		ps.wake()
	}
	return out, nil
}

// checkingOut lists the projects whose running build has not finished its
// checkout: which commit it builds is not known yet.
func (ps *Pushes) checkingOut(ctx context.Context) (map[string]bool, error) {
	active, err := ps.store.Active(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing running builds: %w", err)
	}
	busy := map[string]bool{}
	for _, b := range active {
		if b.Status != pipeline.StatusRunning {
			continue
		}
		stages, err := ps.store.Stages(ctx, b.ID)
		if err != nil {
			return nil, fmt.Errorf("reading the stages of build %d: %w", b.ID, err)
		}
		if !checkedOut(stages) {
			busy[b.Project] = true
		}
	}
	return busy, nil
}

// checkedOut reports whether stages have a finished checkout.
func checkedOut(stages []pipeline.Stage) bool {
	for _, s := range stages {
		if s.Name == pipeline.StageCheckout {
			return s.Status != pipeline.StatusRunning
		}
	}
	return false
}

// WebhookSeen reports whether a webhook for repo arrived within the last
// d, at any server sharing the store. When the store cannot say, it
// reports false: the repository is polled.
func (ps *Pushes) WebhookSeen(ctx context.Context, repo string, d time.Duration) bool {
	at, err := ps.store.LastWebhook(ctx, pipeline.NormalizeRepoURL(repo))
	if err != nil {
		ps.log.Warn("polling: reading the last webhook", "repo", pipeline.RedactURL(repo), "err", err)
		return false
	}
	return !at.IsZero() && ps.now().Sub(at) < d
}
