package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The list pages (projects, a project, Failures, Queue) follow the builds
// with one Server-Sent Events stream, /events, which sends
//
//	event: builds   data: {}
//
// when it starts (what changed since the page was made) and whenever a
// build of a project the reader may see is queued, starts or ends; the
// parts of the page marked data-live fetch themselves again then (htmx,
// hx-trigger="hoist-builds from:body"). One goroutine per server watches
// the store for everyone.

// buildWatch tells its subscribers when the queued and running builds, or
// a project's newest build, changed, among the projects each subscriber
// may see. It reads the store every poll while anyone listens.
type buildWatch struct {
	active func(ctx context.Context) ([]pipeline.Build, error) // the set
	poll   time.Duration
	onErr  func(error)

	mu      sync.Mutex
	subs    map[chan struct{}]*watcher
	builds  []pipeline.Build // the set at the last poll
	running bool
}

// watcher is one subscriber: what it may see and the set it saw last.
type watcher struct {
	sees func(project string) bool
	last string
}

// keyFor is the part of builds w may see, as a comparable key.
func (w *watcher) keyFor(builds []pipeline.Build) string {
	var b strings.Builder
	for _, x := range builds {
		if w.sees(x.Project) {
			fmt.Fprintf(&b, "%d:%s ", x.ID, x.Status)
		}
	}
	return b.String()
}

// subscribe returns a channel that receives (without blocking the watch)
// after each change to the builds of the projects sees says yes to, and
// the function that ends the subscription.
func (w *buildWatch) subscribe(sees func(project string) bool) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs == nil {
		w.subs = map[chan struct{}]*watcher{}
	}
	if !w.running {
		w.running = true
		w.builds, _ = w.active(context.Background()) // before the stream answers: no change is missed
		go w.run()
	}
	sub := &watcher{sees: sees}
	sub.last = sub.keyFor(w.builds)
	w.subs[ch] = sub
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.subs, ch)
	}
}

// run polls until nobody listens.
func (w *buildWatch) run() {
	t := time.NewTicker(w.poll)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.subs) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		builds, err := w.active(context.Background())
		if err != nil {
			w.onErr(err)
			continue
		}
		w.mu.Lock()
		w.builds = builds
		for ch, sub := range w.subs {
			key := sub.keyFor(builds)
			if key == sub.last {
				continue
			}
			sub.last = key
			select {
			case ch <- struct{}{}:
			default: // it has one waiting already
			}
		}
		w.mu.Unlock()
	}
}

// newBuildWatch watches s's store.
func (s *Server) newBuildWatch() *buildWatch {
	return &buildWatch{
		poll:  time.Duration(s.opts.LogPoll) * time.Millisecond,
		onErr: func(err error) { s.deps.Logger.Warn("web: watching builds", "err", err) },
		// The queue and every project's newest build: a build too short
		// to be seen in the queue between two polls still changes the
		// newest build of its project.
		active: func(ctx context.Context) ([]pipeline.Build, error) {
			builds, err := s.deps.Store.Active(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the queue: %w", err)
			}
			last, err := s.deps.Store.LastBuilds(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the last builds: %w", err)
			}
			for _, k := range slices.Sorted(maps.Keys(last)) {
				builds = append(builds, last[k])
			}
			return builds, nil
		},
	}
}

// webEvents serves /events (see above).
func (s *Server) webEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context() // its read scope remembers what it looked up
	ch, stop := s.watch.subscribe(func(project string) bool { return s.sees(ctx, project) })
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	// A first event at once: what changed between the page's rendering and
	// this stream's start (or a reconnect) is not lost.
	if _, err := fmt.Fprint(w, "event: builds\ndata: {}\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	keep := time.NewTicker(30 * time.Second)
	defer keep.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case <-ch:
			msg = "event: builds\ndata: {}\n\n"
		case <-keep.C:
			msg = ": still here\n\n" // keeps proxies from closing an idle stream
		}
		if _, err := fmt.Fprint(w, msg); err != nil || rc.Flush() != nil {
			return
		}
	}
}
