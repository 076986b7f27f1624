package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestWebLiveLists: the list pages mark the parts that fetch themselves
// when builds change, and /events tells them: a build queued, started or
// ended sends one "builds" event.
func TestWebLiveLists(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	for path, want := range map[string]string{
		"/":               `id="projects" hx-get="/" hx-select="#projects" hx-trigger="hoist-builds from:body"`,
		"/?q=slow":        `id="projects" hx-get="/?q=slow" hx-select="#projects" hx-trigger="hoist-builds from:body"`,
		"/failures":       `id="failures" hx-get="/failures" hx-select="#failures" hx-trigger="hoist-builds from:body"`,
		"/p/examples/app": `id="builds" hx-get="/p/examples/app" hx-select="#builds" hx-trigger="hoist-builds from:body"`,
		"/queue":          `id="queue" hx-get="/queue?fragment=list" hx-trigger="hoist-builds from:body"`,
	} {
		if _, body := e.get(path, anon); !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", path, want)
		}
	}
	ch := openEvents(t, e, "/events", "")
	if ev := next(t, ch); ev.name != "builds" {
		t.Errorf("the stream's first event %+v, want builds: what changed since the page was made", ev)
	}
	ctx := context.Background()
	_, _, err := e.store.Enqueue(ctx, "examples/app:latest", "test", time.Now())
	webMust(t, err)
	if ev := next(t, ch); ev.name != "builds" {
		t.Errorf("after a build was queued: %+v", ev)
	}
	e.running.Status, e.running.Finished = pipeline.StatusSucceeded, time.Now()
	webMust(t, e.store.UpdateBuild(ctx, e.running))
	if ev := next(t, ch); ev.name != "builds" {
		t.Errorf("after a build ended: %+v", ev)
	}
	// A build queued and ended between two polls (skipped at once) is
	// never seen in the queue; it still changes its project's newest build.
	e.finished("examples/base:latest", pipeline.StatusSkipped, "unchanged")
	if ev := next(t, ch); ev.name != "builds" {
		t.Errorf("after a build came and went: %+v", ev)
	}
}
