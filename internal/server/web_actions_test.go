package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestWebRebuild: a finished build's page has Rebuild, which queues a
// build of its commit and opens that build's page; the API does the same;
// a running build has Cancel (asking first) instead.
func TestWebRebuild(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	_, body := e.get("/p/examples/app/builds/1", byCookie)
	if !strings.Contains(body, `action="/p/examples/app/builds/1/rebuild"`) || !strings.Contains(body, ">Rebuild</button>") {
		t.Errorf("a finished build's page has no Rebuild")
	}
	if _, anonBody := e.get("/p/examples/app/builds/1", anon); !strings.Contains(anonBody, "Sign in to rebuild") {
		t.Errorf("an anonymous reader is not offered to sign in to rebuild")
	}
	_, running := e.get("/p/demo/slow/builds/1", byCookie)
	if strings.Contains(running, "/rebuild") || !strings.Contains(running, `data-confirm="Cancel build #1 of demo/slow:latest?"`) {
		t.Errorf("a running build's page: Rebuild shown, or Cancel does not ask first")
	}
	resp, _ := e.post("/p/examples/app/builds/1/rebuild", url.Values{}, byCookie, true)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/p/examples/app/builds/2" {
		t.Fatalf("POST rebuild: %d to %q, want 303 to build #2", resp.StatusCode, resp.Header.Get("Location"))
	}
	b2, err := e.store.Builds(t.Context(), "examples/app:latest", 1)
	webMust(t, err)
	if pin, _ := e.store.PinnedCommit(t.Context(), b2[0].ID); b2[0].Number != 2 || pin != e.failed.Commit {
		t.Errorf("the rebuild %+v checks out %q, want %s", b2[0], pin, e.failed.Commit)
	}
	// The API: 202 with the new build; 409 for a build that runs.
	status, b := e.do("POST", fmt.Sprintf("/api/v1/builds/%d/rebuild", e.failed.ID), "", byToken)
	if status != 202 || !strings.Contains(string(b), `"project": "examples/app:latest"`) || !strings.Contains(string(b), `"status": "queued"`) {
		t.Errorf("POST /rebuild = %d %s, want 202 with a queued build", status, b)
	}
	e.apiErr("POST", fmt.Sprintf("/api/v1/builds/%d/rebuild", e.running.ID), "", byToken, 409)
}

// TestWebDelivered: a delivered build shows the docker pull command of its
// digest; Scan now shows only on a project that delivered something.
func TestWebDelivered(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	base, err := e.store.Builds(t.Context(), "examples/base:latest", 1)
	webMust(t, err)
	b := base[0]
	b.Image, b.Digest = "127.0.0.1:5000/examples/base:latest", "sha256:"+strings.Repeat("ab", 32)
	webMust(t, e.store.UpdateBuild(t.Context(), b))
	_, body := e.get("/p/examples/base/builds/1", anon)
	want := "docker pull 127.0.0.1:5000/examples/base@sha256:" + strings.Repeat("ab", 32)
	if !strings.Contains(body, `data-copy="`+want+`"`) {
		t.Errorf("the delivered build's page lacks a copyable %q", want)
	}
	if _, failed := e.get("/p/examples/app/builds/1", anon); strings.Contains(failed, "docker pull") {
		t.Errorf("a failed build offers docker pull")
	}
	if _, page := e.get("/p/examples/base", byCookie); !strings.Contains(page, "Scan now") {
		t.Errorf("no Scan now on a delivered project")
	}
	if _, page := e.get("/p/examples/app", byCookie); strings.Contains(page, "Scan now") {
		t.Errorf("Scan now on a project that delivered nothing")
	}
}

// TestWebQueueCancelNotice: cancelling from the Queue asks first and says
// what it did when the page comes back.
func TestWebQueueCancelNotice(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	_, body := e.get("/queue", byCookie)
	if !strings.Contains(body, `data-confirm="Cancel build #2 of demo/slow:latest?"`) {
		t.Errorf("Cancel on the queue does not ask first")
	}
	resp, _ := e.post("/p/demo/slow/builds/2/cancel", url.Values{"next": {"/queue?cancelled=2&of=demo/slow:latest"}}, byCookie, true)
	loc := resp.Header.Get("Location")
	_, page := e.get(loc, byCookie)
	if !strings.Contains(page, `class="notice" role="status">Build #2 of demo/slow:latest: cancel`) {
		t.Errorf("the queue after cancelling (%s) does not say so", loc)
	}
}
