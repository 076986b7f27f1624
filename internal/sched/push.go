package sched

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// PushStore is what Pushes reads projects from and queues builds in.
type PushStore interface {
	pipeline.ProjectStore
	pipeline.CommitQueue
}

// Pushes turns pushes into builds of every project on the pushed repository
// and branch, once per commit (pipeline.CommitQueue), and remembers which
// repositories webhooks reach so that the poller can leave them be. Safe
// for concurrent use.
type Pushes struct {
	store PushStore
	wake  func()
	log   *slog.Logger
	now   func() time.Time

	mu    sync.Mutex
	hooks map[string]time.Time // normalised repo URL → last webhook
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
	return &Pushes{store: store, wake: wake, log: log, now: time.Now, hooks: map[string]time.Time{}}
}

// Wake wakes an idle worker to look for queued builds at once.
func (d *Dispatcher) Wake() { d.signal() }

// Push queues a build, cause "git push abc1234 to main", of every project
// whose repository is p.Repo (compared by pipeline.NormalizeRepoURL) and
// whose branch is p.Branch, unless that commit is already queued, running or
// built for it. It returns one PushedBuild per such project; none means no
// project tracks that branch. A push that is not from the poller counts as a
// webhook for WebhookSeen.
func (ps *Pushes) Push(ctx context.Context, p pipeline.Push) ([]pipeline.PushedBuild, error) {
	repo := pipeline.NormalizeRepoURL(p.Repo)
	branch := strings.TrimPrefix(p.Branch, "refs/heads/")
	if p.Via != "poll" {
		ps.mu.Lock()
		ps.hooks[repo] = ps.now()
		ps.mu.Unlock()
	}
	projects, err := ps.store.Projects(ctx)
	if err != nil {
		return nil, fmt.Errorf("finding the projects of %s: %w", p.Repo, err)
	}
	var out []pipeline.PushedBuild
	cause := pipeline.PushCause(p.Commit, branch)
	for _, pr := range projects {
		if pr.GitBranch != branch || pipeline.NormalizeRepoURL(pr.GitURL) != repo {
			continue
		}
		b, outcome, err := ps.store.EnqueueCommit(ctx, pr.Key(), p.Commit, cause, ps.now())
		if err != nil {
			return out, err
		}
		level := slog.LevelInfo
		if outcome == pipeline.EnqueueDuplicate {
			level = slog.LevelDebug // every poll finds the commits it found before
		}
		ps.log.Log(ctx, level, "push", "via", p.Via, "repo", p.Repo, "branch", branch, "commit", p.Commit,
			"project", pr.Key(), "build", b.Number, "outcome", outcome)
		out = append(out, pipeline.PushedBuild{Project: pr.Key(), Build: b, Outcome: outcome})
	}
	if len(out) > 0 {
		ps.wake()
	}
	return out, nil
}

// WebhookSeen reports whether a webhook for repo arrived within the last d.
func (ps *Pushes) WebhookSeen(repo string, d time.Duration) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	at, ok := ps.hooks[pipeline.NormalizeRepoURL(repo)]
	return ok && ps.now().Sub(at) < d
}
