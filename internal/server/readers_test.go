package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// readersEnv is newChecksEnv with owners: the namespace examples belongs
// to ana (maintainer) with vic as its viewer, demo belongs to ben, and
// root is an admin. Its index reconciles name projects of both.
type readersEnv struct {
	*checksEnv
	users map[string]member
}

func newReadersEnv(t *testing.T, opts Options) *readersEnv {
	e := &readersEnv{checksEnv: newChecksEnv(t, opts), users: map[string]member{}}
	ctx := context.Background()
	for _, name := range []string{"ana", "vic", "ben"} {
		e.users[name] = e.addUser(name, false)
	}
	e.users["root"] = e.addUser("root", true)
	webMust(t, e.store.CreateNamespace(ctx, "examples", e.users["ana"].ID, time.Now()))
	webMust(t, e.store.Grant(ctx, pipeline.Member{Namespace: "examples", UserID: e.users["vic"].ID, Role: pipeline.RoleViewer}))
	webMust(t, e.store.CreateNamespace(ctx, "demo", e.users["ben"].ID, time.Now()))
	webMust(t, e.store.RecordReconcile(ctx, &pipeline.Reconcile{Revision: "r1", Time: time.Now(),
		Added: []string{"examples/base:latest", "demo/slow:latest"}}))
	webMust(t, e.store.RecordReconcile(ctx, &pipeline.Reconcile{Revision: "r2", Time: time.Now(),
		Errors: []string{"index.d/examples.yaml:3:1: git-url is missing"}}))
	_, _, err := e.store.Enqueue(ctx, checkedKey, "test", time.Now()) // in the queue beside demo/slow's
	webMust(t, err)
	return e
}

// readCase is a read of one of examples' things, and the same read of a
// thing that does not exist: gone, whose answer names gone's part of it
// where the read names its own.
type readCase struct {
	path, gone  string
	goneS, ownS string // what to replace in the answer to gone to get the one for path
}

// readCases is one read per route that reads one project, build or scan,
// by pattern (API routes without /api/v1).
func (e *readersEnv) readCases() map[string]readCase {
	b, sc := e.failed, e.scan1
	proj := func(p, gone string) readCase {
		return readCase{path: p, gone: gone, goneS: "demo/nothere", ownS: "examples/checked"}
	}
	build := func(format string) readCase {
		return readCase{path: fmt.Sprintf(format, b.ID), gone: fmt.Sprintf(format, 987654321), goneS: "987654321", ownS: fmt.Sprint(b.ID)}
	}
	scan := func(format string) readCase {
		return readCase{path: fmt.Sprintf(format, sc.ID), gone: fmt.Sprintf(format, 987654321), goneS: "987654321", ownS: fmt.Sprint(sc.ID)}
	}
	web := func(rest string) readCase {
		return proj(fmt.Sprintf("/p/examples/checked%s", rest), "/p/demo/nothere"+rest)
	}
	n := fmt.Sprintf("/builds/%d", b.Number) // finished: its event stream ends
	return map[string]readCase{
		"GET /projects/{ns}/{name}":                      proj("/api/v1/projects/examples/checked", "/api/v1/projects/demo/nothere"),
		"GET /projects/{ns}/{name}/builds":               proj("/api/v1/projects/examples/checked/builds", "/api/v1/projects/demo/nothere/builds"),
		"GET /projects/{ns}/{name}/scans":                proj("/api/v1/projects/examples/checked/scans", "/api/v1/projects/demo/nothere/scans"),
		"GET /builds/{id}":                               build("/api/v1/builds/%d"),
		"GET /builds/{id}/checks":                        build("/api/v1/builds/%d/checks"),
		"GET /builds/{id}/artifacts":                     build("/api/v1/builds/%d/artifacts"),
		"GET /builds/{id}/artifacts/{name}":              build("/api/v1/builds/%d/artifacts/junit.xml"),
		"GET /builds/{id}/stages/{stage}/log":            build("/api/v1/builds/%d/stages/test/log"),
		"GET /builds/{id}/log":                           build("/api/v1/builds/%d/log"),
		"GET /scans/{id}":                                scan("/api/v1/scans/%d"),
		"GET /scans/{id}/sbom":                           scan("/api/v1/scans/%d/sbom"),
		"GET /p/{ns}/{name}":                             web(""),
		"GET /p/{ns}/{name}/builds/{n}":                  web(n),
		"GET /p/{ns}/{name}/builds/{n}/live":             web(n + "/live"),
		"GET /p/{ns}/{name}/builds/{n}/events":           web(n + "/events"),
		"GET /p/{ns}/{name}/builds/{n}/logs/{stage}":     web(n + "/logs/test?before=0&line=1"),
		"GET /p/{ns}/{name}/builds/{n}/results":          web(n + "/results"),
		"GET /p/{ns}/{name}/builds/{n}/artifacts/{file}": web(n + "/artifacts/junit.xml"),
	}
}

// listReads are the reads of lists: what examples' members see in them
// and others do not.
var listReads = map[string]struct{ path, examples, demo string }{
	"GET /projects":         {"/api/v1/projects", `"examples/checked:latest"`, `"demo/slow:latest"`},
	"GET /images":           {"/api/v1/images", `"examples/checked:latest"`, ""},
	"GET /index/reconciles": {"/api/v1/index/reconciles", "index.d/examples.yaml:3:1", `"demo/slow:latest"`},
	"GET /{$}":              {"/", `href="/p/examples/checked"`, `href="/p/demo/slow"`},
	"GET /failures":         {"/failures", `href="/p/examples/app"`, ""},
	"GET /queue":            {"/queue", `examples/checked`, `demo/slow`},
	"GET /index":            {"/index", "index.d/examples.yaml:3:1", "demo/slow:latest"},
}

// openReads are the reads that show nothing of any project, and /events
// (TestPrivateLiveEvents).
var openReads = []string{"GET /openapi.json", "GET /login", "GET /register", "GET /events"}

// getAs reads path as m (a token for the API, the session for the UI).
func (e *readersEnv) getAs(m member, path string) (int, string) {
	e.t.Helper()
	if strings.HasPrefix(path, "/api/") {
		return e.doAs(m, "GET", path, "")
	}
	return e.webAs(m, path, nil)
}

// anonGet reads path without signing in or following a redirect.
func (e *readersEnv) anonGet(path string) int {
	e.t.Helper()
	resp, err := noRedirects(e.http.Client()).Get(e.http.URL + path)
	webMust(e.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestEveryReadRouteHasACase fails when a route that reads is added
// without a case in readCases, listReads or openReads.
func TestEveryReadRouteHasACase(t *testing.T) {
	e := newReadersEnv(t, Options{})
	cases := e.readCases()
	routes := append(e.server.apiRoutes(), e.server.webPages()...)
	n := 0
	for _, rt := range routes {
		if !strings.HasPrefix(rt.pattern, "GET ") {
			continue
		}
		n++
		_, one := cases[rt.pattern]
		_, list := listReads[rt.pattern]
		if !one && !list && !slices.Contains(openReads, rt.pattern) {
			t.Errorf("the read route %s has no case in readCases, listReads or openReads: say who may read it", rt.pattern)
		}
	}
	if want := len(cases) + len(listReads) + len(openReads); n != want {
		t.Errorf("%d read routes, %d cases: each read route needs one case, and each case its route", n, want)
	}
}

// TestPrivateReadsOfOthersAre404: with private reads, ben (no member of
// examples) gets for every read of examples' project, builds, logs,
// artifacts and scans the very answer he gets for one that does not
// exist; its members and admins read them; anonymous readers are asked
// to sign in.
func TestPrivateReadsOfOthersAre404(t *testing.T) {
	e := newReadersEnv(t, Options{})
	for pattern, c := range e.readCases() {
		status, body := e.getAs(e.users["ben"], c.path)
		gStatus, gBody := e.getAs(e.users["ben"], c.gone)
		gBody = strings.ReplaceAll(gBody, c.goneS, c.ownS)
		body, gBody = unmasked(body), unmasked(gBody) // masked afresh on every page
		if status != http.StatusNotFound || gStatus != http.StatusNotFound || body != gBody {
			t.Errorf("%s: ben reading %s = %d\n%s\nwant what reading %s gives: %d\n%s", pattern, c.path, status, body, c.gone, gStatus, gBody)
		}
		for _, name := range []string{"vic", "ana", "root"} {
			if status, body := e.getAs(e.users[name], c.path); status != http.StatusOK {
				t.Errorf("%s: %s reading %s = %d\n%s", pattern, name, c.path, status, body)
			}
		}
		if status := e.anonGet(c.path); status != http.StatusUnauthorized && status != http.StatusSeeOther {
			t.Errorf("%s: anonymous reading %s = %d, want 401 or a redirect to sign in", pattern, c.path, status)
		}
	}
}

// TestPrivateListsLeaveOthersOut: lists show a user only the projects of
// their namespaces; an admin sees all.
func TestPrivateListsLeaveOthersOut(t *testing.T) {
	e := newReadersEnv(t, Options{})
	for pattern, c := range listReads {
		for name, want := range map[string][2]bool{"ben": {false, true}, "vic": {true, false}, "root": {true, true}} {
			status, body := e.getAs(e.users[name], c.path)
			if status != http.StatusOK {
				t.Fatalf("%s as %s = %d\n%s", c.path, name, status, body)
			}
			if got := strings.Contains(body, c.examples); got != want[0] {
				t.Errorf("%s as %s: shows %s = %v, want %v\n%s", pattern, name, c.examples, got, want[0], body)
			}
			if c.demo == "" {
				continue
			}
			if got := strings.Contains(body, c.demo); got != want[1] {
				t.Errorf("%s as %s: shows %s = %v, want %v\n%s", pattern, name, c.demo, got, want[1], body)
			}
		}
	}
	// Searching finds nothing of others either.
	if _, body := e.webAs(e.users["ben"], "/?q=checked", nil); strings.Contains(body, "examples/checked") {
		t.Errorf("ben's search for checked finds examples/checked")
	}
}

// TestPrivateLiveEvents: /events tells a user of changes to the builds
// they may see, and of no others.
func TestPrivateLiveEvents(t *testing.T) {
	e := newReadersEnv(t, Options{})
	ctx := context.Background()
	ben := openEvents(t, e.webEnv, "/events", "", e.users["ben"].session)
	vic := openEvents(t, e.webEnv, "/events", "", e.users["vic"].session)
	next(t, ben) // the first event, at once
	next(t, vic)
	_, _, err := e.store.Enqueue(ctx, "examples/base:latest", "test", time.Now())
	webMust(t, err)
	if ev := next(t, vic); ev.name != "builds" {
		t.Fatalf("vic's event after examples/base was queued: %+v", ev)
	}
	// The watch told every subscriber at once; ben would have had his by
	// now (a late one on a loaded machine would pass unnoticed, not fail).
	select {
	case ev := <-ben:
		t.Errorf("ben was told of a build of examples: %+v", ev)
	case <-time.After(time.Second):
	}
	_, _, err = e.store.Enqueue(ctx, "demo/other:latest", "test", time.Now())
	webMust(t, err)
	if ev := next(t, ben); ev.name != "builds" {
		t.Errorf("ben's event after a build of demo: %+v", ev)
	}
}

// TestPublicReadsUnchanged: with public reads, anyone reads every project.
func TestPublicReadsUnchanged(t *testing.T) {
	e := newReadersEnv(t, Options{PublicRead: true})
	for pattern, c := range e.readCases() {
		for _, name := range []string{"ben", "vic"} {
			if status, body := e.getAs(e.users[name], c.path); status != http.StatusOK {
				t.Errorf("%s: %s reading %s = %d\n%s", pattern, name, c.path, status, body)
			}
		}
		if status, body := e.do("GET", c.path, "", anon); status != http.StatusOK {
			t.Errorf("%s: anonymous reading %s = %d\n%s", pattern, c.path, status, body)
		}
	}
	for pattern, c := range listReads {
		if _, body := e.getAs(e.users["ben"], c.path); !strings.Contains(body, c.examples) {
			t.Errorf("%s as ben lacks %s", pattern, c.examples)
		}
	}
}

// TestIndexProjectsBuiltOnlyByMaintainers: an index project is built,
// cancelled and rebuilt only by its namespace's maintainers and admins;
// a viewer gets 403, and so does a stranger, or 404 when reads are
// private. Nothing changes.
func TestIndexProjectsBuiltOnlyByMaintainers(t *testing.T) {
	for _, public := range []bool{true, false} {
		e := newReadersEnv(t, Options{PublicRead: public})
		ctx := context.Background()
		running, _, err := e.store.Enqueue(ctx, "examples/app:latest", "test", time.Now())
		webMust(t, err)
		failed := e.webEnv.failed // of examples/app, from the index
		writes := []struct{ path string }{
			{"/api/v1/projects/examples/app/builds"},
			{fmt.Sprintf("/api/v1/builds/%d/cancel", running.ID)},
			{fmt.Sprintf("/api/v1/builds/%d/rebuild", failed.ID)},
			{"/p/examples/app/build"},
			{fmt.Sprintf("/p/examples/app/builds/%d/cancel", running.Number)},
			{fmt.Sprintf("/p/examples/app/builds/%d/rebuild", failed.Number)},
		}
		stranger := map[bool]int{true: http.StatusForbidden, false: http.StatusNotFound}[public]
		for _, w := range writes {
			for name, want := range map[string]int{"vic": http.StatusForbidden, "ben": stranger} {
				before := e.snapshot()
				var status int
				var body string
				if strings.HasPrefix(w.path, "/api/") {
					status, body = e.doAs(e.users[name], "POST", w.path, "")
				} else {
					status, body = e.webAs(e.users[name], w.path, url.Values{})
				}
				if status != want {
					t.Errorf("public=%v: POST %s by %s = %d, want %d\n%s", public, w.path, name, status, want, body)
				}
				if e.snapshot() != before {
					t.Errorf("public=%v: POST %s by %s changed the store", public, w.path, name)
				}
			}
		}
		if len(e.queue.calls) != 0 {
			t.Errorf("public=%v: refused writes reached the queue: %v", public, e.queue.calls)
		}
		if status, body := e.doAs(e.users["ana"], "POST", "/api/v1/projects/examples/app/builds", ""); status != http.StatusAccepted {
			t.Errorf("public=%v: the maintainer building examples/app = %d %s", public, status, body)
		}
	}
}
