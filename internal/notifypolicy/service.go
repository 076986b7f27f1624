package notifypolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Store is what the service reads projects from and records notify state
// and delivery attempts in.
type Store interface {
	pipeline.NotifyStore
	pipeline.ProjectStore
}

// Options configure a Service.
type Options struct {
	PublicURL      string        // base of build page links, e.g. "http://127.0.0.1:8080"
	NotifySuccess  bool          // announce every success, whatever projects ask for
	Attempts       int           // tries per recipient; default 5
	Backoff        time.Duration // wait before the second try, doubled after each; default 1 s
	AttemptTimeout time.Duration // how long one try may take; default 30 s
	Queue          int           // finished builds waiting to be decided; default 256
	Senders        int           // deliveries at once; default 4
	Logger         *slog.Logger  // nil: discard
}

// Service notifies about finished builds in the background. Calls never
// block on the network or the store, and a notification that cannot be
// delivered is retried, recorded failed and otherwise ignored. It is safe
// for concurrent use. Decisions are made one build at a time, in the order
// the builds finished.
type Service struct {
	st       Store
	channels []pipeline.Notifier
	opts     Options

	mu     sync.RWMutex
	closed bool
	jobs   chan job

	sends      chan delivery
	sendCtx    context.Context
	stopSends  context.CancelCauseFunc
	decided    chan struct{}
	sendersWG  sync.WaitGroup
	closeOnce  sync.Once
	closeError error
}

// job is a finished build to decide about; project nil means it is read
// from the store.
type job struct {
	project *pipeline.Project
	build   pipeline.Build
}

// delivery is one notification to one recipient on one channel.
type delivery struct {
	n         pipeline.Notification
	channel   pipeline.Notifier
	recipient string
}

// errStopped is why deliveries still being retried when Close gives up end.
var errStopped = errors.New("hoist stopped before it could be delivered")

// New returns a running Service sending on channels; Close stops it.
func New(st Store, channels []pipeline.Notifier, opts Options) *Service {
	if opts.Attempts < 1 {
		opts.Attempts = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 30 * time.Second
	}
	if opts.Queue < 1 {
		opts.Queue = 256
	}
	if opts.Senders < 1 {
		opts.Senders = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.PublicURL = strings.TrimSuffix(opts.PublicURL, "/")
	s := &Service{st: st, channels: channels, opts: opts,
		jobs: make(chan job, opts.Queue), sends: make(chan delivery, opts.Queue),
		decided: make(chan struct{})}
	s.sendCtx, s.stopSends = context.WithCancelCause(context.Background())
	go s.decide()
	for range opts.Senders {
		s.sendersWG.Go(s.send)
	}
	return s
}

// BuildFinished queues b, whose project is read from the store, to be
// notified about; a dispatcher's sched.BuildObserver.
func (s *Service) BuildFinished(b pipeline.Build) { s.enqueue(job{build: b}) }

// Finished queues build b of p to be notified about.
func (s *Service) Finished(p pipeline.Project, b pipeline.Build) {
	s.enqueue(job{project: &p, build: b})
}

// enqueue hands j to the decider without waiting: a full queue drops it.
func (s *Service) enqueue(j job) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.opts.Logger.Warn("not notifying: notifications have stopped", "build", j.build.ID, "project", j.build.Project)
		return
	}
	select {
	case s.jobs <- j:
	default:
		s.opts.Logger.Warn("not notifying: the notification queue is full", "build", j.build.ID, "project", j.build.Project)
	}
}

// Close stops taking builds and waits for the queued ones to be decided
// and delivered. When ctx ends first, retries are abandoned (recorded
// failed) and ctx's error is returned once every delivery has stopped.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.jobs)
		s.mu.Unlock()
		done := make(chan struct{})
		go func() {
			<-s.decided
			close(s.sends)
			s.sendersWG.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.closeError = fmt.Errorf("flushing notifications: %w", ctx.Err())
			s.stopSends(errStopped)
			<-done
		}
		s.stopSends(nil)
	})
	return s.closeError
}

// decide turns finished builds into deliveries, one build at a time.
func (s *Service) decide() {
	defer close(s.decided)
	for j := range s.jobs {
		for _, d := range s.deliveries(j) {
			s.sends <- d
		}
	}
}

// deliveries applies the policy to j and returns what to send.
func (s *Service) deliveries(j job) []delivery {
	ctx, b := s.sendCtx, j.build
	log := s.opts.Logger.With("build", b.ID, "project", b.Project)
	health := Decide(pipeline.HealthUnknown, b, false).Health
	if health == pipeline.HealthUnknown {
		return nil // skipped or cancelled: nothing changes
	}
	p, err := s.project(ctx, j)
	if err != nil {
		log.Warn("not notifying: the project cannot be read", "err", err)
		return nil
	}
	prev, stale, err := s.st.SwapNotifyState(ctx, pipeline.NotifyState{
		Project: b.Project, Health: health, BuildID: b.ID, Updated: time.Now().UTC()})
	if err != nil {
		log.Warn("not notifying: the notify state cannot be stored", "err", err)
		return nil
	}
	if stale {
		return nil // a newer build has already been told about
	}
	dec := Decide(prev.Health, b, s.opts.NotifySuccess || p.NotifySuccess)
	if dec.Event == "" {
		return nil
	}
	n := pipeline.Notification{Event: dec.Event, Project: p, Build: b, URL: s.opts.PublicURL + pipeline.BuildPagePath(b)}
	var out []delivery
	for _, c := range s.channels {
		for _, r := range c.Recipients(n) {
			out = append(out, delivery{n: n, channel: c, recipient: r})
		}
	}
	log.Debug("notifying", "event", dec.Event, "deliveries", len(out))
	return out
}

func (s *Service) project(ctx context.Context, j job) (pipeline.Project, error) {
	if j.project != nil {
		return *j.project, nil
	}
	return s.st.Project(ctx, j.build.Project)
}

// send delivers until the queue closes.
func (s *Service) send() {
	for d := range s.sends {
		s.deliver(d)
	}
}

// deliver tries d up to Attempts times, with exponential backoff, recording
// every attempt.
func (s *Service) deliver(d delivery) {
	ctx := s.sendCtx
	log := s.opts.Logger.With("build", d.n.Build.ID, "project", d.n.Build.Project, "channel", d.channel.Channel())
	now := time.Now().UTC()
	rec := pipeline.NotificationRecord{BuildID: d.n.Build.ID, Project: d.n.Build.Project, Event: d.n.Event,
		Channel: d.channel.Channel(), Recipient: d.recipient, Status: pipeline.NotificationPending,
		Created: now, Updated: now}
	s.record(log, &rec)
	for wait := s.opts.Backoff; ; wait *= 2 {
		actx, cancel := context.WithTimeout(ctx, s.opts.AttemptTimeout)
		err := d.channel.Send(actx, d.n, d.recipient)
		cancel()
		rec.Attempts++
		rec.Updated = time.Now().UTC()
		switch {
		case err == nil:
			rec.Status, rec.LastError = pipeline.NotificationSent, ""
		case rec.Attempts >= s.opts.Attempts:
			rec.Status, rec.LastError = pipeline.NotificationFailed, err.Error()
		default:
			rec.LastError = err.Error()
		}
		s.record(log, &rec)
		if rec.Status != pipeline.NotificationPending {
			break
		}
		if !sleep(ctx, wait) {
			rec.Status, rec.Updated = pipeline.NotificationFailed, time.Now().UTC()
			rec.LastError += "; " + context.Cause(ctx).Error()
			s.record(log, &rec)
			break
		}
	}
	if rec.Status == pipeline.NotificationFailed {
		log.Warn("notification not delivered", "recipient", rec.Recipient, "attempts", rec.Attempts, "err", rec.LastError)
	}
}

// record stores rec; a store failure is logged, never fatal.
func (s *Service) record(log *slog.Logger, rec *pipeline.NotificationRecord) {
	if err := s.st.PutNotification(context.WithoutCancel(s.sendCtx), rec); err != nil {
		log.Warn("recording a notification attempt", "err", err)
	}
}

// sleep waits d, false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
