package sched

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Triggerer queues a build of a project; Dispatcher.Trigger is one.
type Triggerer interface {
	Trigger(ctx context.Context, key, cause string) (b pipeline.Build, joined bool, err error)
}

// ScheduleOptions configure a Scheduler.
type ScheduleOptions struct {
	// Global rebuilds every project on this schedule ("" for none): a
	// 5-field cron spec or a descriptor such as @weekly or @every 12h.
	Global string
	// Refresh is how often projects are re-read for their own schedules;
	// default 1 min.
	Refresh  time.Duration
	Location *time.Location // for cron specs; default time.Local
	Logger   *slog.Logger   // nil: discard
}

// ParseSchedule checks a schedule spec: 5-field cron ("0 3 * * 1") or a
// descriptor (@yearly, @monthly, @weekly, @daily, @hourly, @every 1h30m).
func ParseSchedule(spec string) error {
	if _, err := cron.ParseStandard(strings.TrimSpace(spec)); err != nil {
		return fmt.Errorf("schedule %q: %w; write 5 cron fields (minute hour day-of-month month day-of-week, e.g. \"0 3 * * 1\") or @weekly, @daily, @hourly, @every 12h", spec, err)
	}
	return nil
}

// Scheduler rebuilds projects on cron schedules: every project on the
// global one, and each project with a Schedule on its own. The builds'
// cause is pipeline.ScheduleCause. Safe for concurrent use.
type Scheduler struct {
	projects pipeline.ProjectStore
	queue    Triggerer
	opts     ScheduleOptions
	cron     *cron.Cron

	mu      sync.Mutex
	ctx     context.Context
	entries map[string]cron.EntryID // spec → its cron entry
}

// NewScheduler returns a Scheduler; Run starts it. An invalid global
// schedule is an error.
func NewScheduler(projects pipeline.ProjectStore, queue Triggerer, opts ScheduleOptions) (*Scheduler, error) {
	opts.Global = strings.TrimSpace(opts.Global)
	if opts.Global != "" {
		if err := ParseSchedule(opts.Global); err != nil {
			return nil, err
		}
	}
	if opts.Refresh <= 0 {
		opts.Refresh = time.Minute
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{projects: projects, queue: queue, opts: opts,
		cron: cron.New(cron.WithLocation(opts.Location)), ctx: context.Background(),
		entries: map[string]cron.EntryID{}}, nil
}

// Run fires the schedules until ctx ends, re-reading the projects' own
// schedules every Refresh.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.Sync(ctx)
	s.cron.Start()
	defer func() { <-s.cron.Stop().Done() }()
	t := time.NewTicker(s.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sync(ctx)
		}
	}
}

// Sync makes the cron entries match the global schedule and the projects'
// schedules, and returns the specs it now runs. A project with an invalid
// schedule is logged and left unscheduled.
func (s *Scheduler) Sync(ctx context.Context) []string {
	want := map[string]bool{}
	if s.opts.Global != "" {
		want[s.opts.Global] = true
	}
	projects, err := s.projects.Projects(ctx)
	if err != nil {
		s.opts.Logger.Error("schedules: listing projects", "err", err)
		return s.Specs()
	}
	for _, p := range projects {
		if spec := strings.TrimSpace(p.Schedule); spec != "" {
			want[spec] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for spec, id := range s.entries {
		if !want[spec] {
			s.cron.Remove(id)
			delete(s.entries, spec)
		}
	}
	for spec := range want {
		if _, ok := s.entries[spec]; ok {
			continue
		}
		id, err := s.cron.AddFunc(spec, func() { s.Fire(s.runCtx(), spec) })
		if err != nil {
			s.opts.Logger.Warn("schedules: a project's schedule is invalid; it is not scheduled", "schedule", spec, "err", err)
			continue
		}
		s.entries[spec] = id
	}
	return s.specsLocked()
}

// Specs lists the schedules the Scheduler runs, in no order.
func (s *Scheduler) Specs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.specsLocked()
}

func (s *Scheduler) specsLocked() []string {
	out := make([]string, 0, len(s.entries))
	for spec := range s.entries {
		out = append(out, spec)
	}
	return out
}

// Next is when spec fires next, the zero time when it is not scheduled or
// Run has not started.
func (s *Scheduler) Next(spec string) time.Time {
	s.mu.Lock()
	id, ok := s.entries[strings.TrimSpace(spec)]
	s.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	return s.cron.Entry(id).Next
}

func (s *Scheduler) runCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx
}

// Fire triggers the builds spec is due for now, as cron does when it
// fires: every project if spec is the global schedule, else the projects
// whose own schedule it is. It returns the keys it triggered (a build
// already queued is joined). Failures are logged.
func (s *Scheduler) Fire(ctx context.Context, spec string) []string {
	spec = strings.TrimSpace(spec)
	projects, err := s.projects.Projects(ctx)
	if err != nil {
		s.opts.Logger.Error("schedules: listing projects", "schedule", spec, "err", err)
		return nil
	}
	cause := pipeline.ScheduleCause(spec)
	var out []string
	for _, p := range projects {
		if spec != s.opts.Global && strings.TrimSpace(p.Schedule) != spec {
			continue
		}
		b, joined, err := s.queue.Trigger(ctx, p.Key(), cause)
		if err != nil {
			s.opts.Logger.Error("schedules: queueing a build", "project", p.Key(), "schedule", spec, "err", err)
			continue
		}
		s.opts.Logger.Info("scheduled build", "project", p.Key(), "schedule", spec, "build", b.Number, "joined", joined)
		out = append(out, p.Key())
	}
	return out
}
