package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestBuildAttemptShown: a build taken again after its runner was lost
// shows its attempt on its page and in the API; a first attempt shows none.
func TestBuildAttemptShown(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	ctx := context.Background()
	e.putProject(testProject("demo", "retry"))
	q, _, err := e.store.Enqueue(ctx, "demo/retry:latest", "manual by alice", time.Now())
	webMust(t, err)
	_, err = e.store.ClaimID(ctx, q.ID, pipeline.Lease{Holder: "lost", Until: time.Now()}, time.Now())
	webMust(t, err)
	_, err = e.store.ExpireLeases(ctx, time.Now().Add(time.Second), pipeline.Retry{Attempts: 3})
	webMust(t, err)
	b, err := e.store.ClaimID(ctx, q.ID, pipeline.Lease{Holder: "server-b", Until: time.Now().Add(time.Hour)}, time.Now().Add(time.Minute))
	webMust(t, err)
	if b.Attempt != 2 {
		t.Fatalf("claimed attempt %d, want 2", b.Attempt)
	}
	if status, body := e.do("GET", fmt.Sprintf("/api/v1/builds/%d", b.ID), "", anon); status != 200 || !strings.Contains(string(body), `"attempt": 2,`) {
		t.Errorf("API build = %d %s, want attempt 2", status, body)
	}
	if status, body := e.do("GET", fmt.Sprintf("/api/v1/builds/%d", e.running.ID), "", anon); status != 200 || strings.Contains(string(body), `"attempt"`) {
		t.Errorf("API build of a first attempt = %d %s, want no attempt", status, body)
	}
	if status, body := e.get(buildURL(b), anon); status != 200 || !strings.Contains(body, ">attempt 2</span>") {
		t.Errorf("build page = %d, want it to show attempt 2:\n%s", status, body)
	}
	if _, body := e.get(buildURL(e.running), anon); strings.Contains(body, "attempt 1") || strings.Contains(body, `class="attempt"`) {
		t.Errorf("the page of a first attempt shows an attempt")
	}
}
