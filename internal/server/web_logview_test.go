package server

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestWebLogLines: a build page's log lines are numbered, each with an
// anchor STAGE-LN that links to itself and the time it was stored.
func TestWebLogLines(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	_, body := e.get("/p/examples/app/builds/1", anon)
	for _, want := range []string{
		`<a href="#build-L1">1</a>Step 1/3 : FROM examples/base` + "\n</span>",
		`<span id="build-L1" data-t="`, `<span id="build-L2">`, // a line stored with the one before has its time
		`<a href="#build-L2">2</a><span class="fg-1">red error</span> and &lt;script&gt;`,
		`<a href="#build-L3">3</a>last line here`,
		`href="/api/v1/builds/` + fmt.Sprint(e.failed.ID) + `/log"`,
		`id="log-search"`, `id="log-times"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the build page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="build-L4"`) {
		t.Error("a line 4 for a log of 3 lines")
	}
}

// TestWebLogBig: a big log shows its last 256 KiB, numbered as lines of
// the whole log, with a link that loads the lines before, down to line 1.
func TestWebLogBig(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	b := e.finished("demo/slow:latest", pipeline.StatusSucceeded, "")
	const n = 12000 // lines of 51 bytes: 600 KiB
	var log strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&log, "line %06d %s\n", i, strings.Repeat("x", 38))
	}
	e.log(b.ID, pipeline.StageBuild, log.String())
	_, body := e.get(buildURL(b), anon)
	if !strings.Contains(body, fmt.Sprintf(`<a href="#build-L%d">%d</a>line %06d `, n, n, n)) || !strings.Contains(body, "Shown from line ") {
		t.Fatalf("the last line is not numbered %d", n)
	}
	m := regexp.MustCompile(`<a class="load-earlier" href="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no link to load the earlier lines")
	}
	if size := len(body); size > 600<<10 {
		t.Errorf("the page is %d bytes: more than the log's tail", size)
	}
	first := regexp.MustCompile(`id="build-L(\d+)"`).FindStringSubmatch(body)
	if first == nil || first[1] == "1" {
		t.Fatalf("the page starts at line %v, want a later one", first)
	}
	// Each line's number matches its text, all the way back to line 1.
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	for range 5 {
		status, part := e.get(next, anon)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", next, status, part)
		}
		for _, l := range regexp.MustCompile(`id="build-L(\d+)"[^>]*><a href="#build-L\d+">\d+</a>line (\d+) `).FindAllStringSubmatch(part, -1) {
			if strings.TrimLeft(l[2], "0") != l[1] {
				t.Fatalf("line %s reads %q", l[1], l[2])
			}
		}
		if strings.Contains(part, `id="build-L1"`) {
			return
		}
		if !strings.Contains(part, "line ") {
			t.Fatalf("GET %s: no lines", next)
		}
		next = earlierURL(t, e, next) // as logview.js makes it from X-Log-Start and X-Log-First
	}
	t.Fatal("line 1 not reached after 5 loads")
}

// earlierURL is the link that loads the lines before those url returned.
func earlierURL(t *testing.T, e *webEnv, url string) string {
	t.Helper()
	req := e.http.Client()
	resp, err := req.Get(e.http.URL + url)
	webMust(t, err)
	resp.Body.Close()
	path, _, _ := strings.Cut(url, "?")
	return fmt.Sprintf("%s?before=%s&line=%s", path, resp.Header.Get("X-Log-Start"), resp.Header.Get("X-Log-First"))
}

// TestAPIBuildLog: the whole build's log, every stage in order under a
// header, as plain text.
func TestAPIBuildLog(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	e.log(e.failed.ID, pipeline.StageCheckout, "checked out main")
	status, body := e.get(fmt.Sprintf("/api/v1/builds/%d/log", e.failed.ID), anon)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	want := "# examples/app:latest #1: failed\n==> checkout: succeeded (2 min 0 s)\nchecked out main\n==> prebuild: succeeded (2 min 0 s)\n" +
		"==> lint: succeeded (2 min 0 s)\n==> build: failed (2 min 0 s)\nStep 1/3 : FROM examples/base\n\x1b[31mred error\x1b[0m and <script>alert('log')</script>\nlast line here\n" +
		"==> test: skipped (2 min 0 s)\n==> scan: skipped (2 min 0 s)\n==> deliver: skipped (2 min 0 s)\n"
	if body != want {
		t.Errorf("log:\n%q\nwant\n%q", body, want)
	}
	resp, err := e.http.Client().Get(e.http.URL + fmt.Sprintf("/api/v1/builds/%d/log", e.failed.ID))
	webMust(t, err)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if status, _ := e.get("/api/v1/builds/999/log", anon); status != 404 {
		t.Errorf("the log of no build: %d, want 404", status)
	}
}

// TestWebLogRunning: a running stage's page shows the lines stored so far
// and its one event stream goes on after them; nothing polls the build.
func TestWebLogRunning(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	e.log(e.running.ID, pipeline.StageCheckout, "cloning\ncloned\nhalf a li")
	_, body := e.get(buildURL(e.running), anon)
	for _, want := range []string{`<a href="#checkout-L2">2</a>cloned`, `/events?from=checkout&amp;at=15&amp;line=2"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"half a li", "every 1s"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page has %q", bad)
		}
	}
	ch := openEvents(t, e, "/p/demo/slow/builds/1/events?from=checkout&at=15&line=2", "")
	e.log(e.running.ID, pipeline.StageCheckout, "ne\n")
	if ev := next(t, ch); !strings.Contains(ev.data.HTML, `<a href="#checkout-L3">3</a>half a line`) || strings.Contains(ev.data.HTML, "cloned") {
		t.Errorf("the stream went on with %+v", ev)
	}
}

// TestFavicon: /favicon.ico is the site's icon, not a 404.
func TestFavicon(t *testing.T) {
	e := newWebEnv(t, Options{})
	status, body := e.get("/favicon.ico", anon)
	if status != 200 || !strings.HasPrefix(body, "<svg") {
		t.Errorf("/favicon.ico: %d %.40q", status, body)
	}
}

// TestWebEventsDoneWaitsForTheBuild: the runner records a build's end
// after its last stage (it cleans up first); the page's "done" event waits
// for that record, so the page shows the build's final status.
// A page opened after the last stage ended but before the build's end was
// recorded still learns of that end: its stream starts past the stages.
func TestWebPageBetweenLastStageAndEnd(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	ctx := t.Context()
	now := time.Now()
	for _, name := range pipeline.Stages {
		webMust(t, e.store.PutStage(ctx, pipeline.Stage{BuildID: e.running.ID, Name: name, Status: pipeline.StatusSucceeded, Started: now, Finished: now}))
	}
	_, page := e.get("/p/demo/slow/builds/1", anon)
	if !strings.Contains(page, `/events?from=end&amp;`) {
		t.Fatalf("the page of a build past its last stage has no stream to its end:\n%s", page)
	}
	ch := openEvents(t, e, "/p/demo/slow/builds/1/events?from=end", "")
	b := e.running
	b.Status, b.Finished = pipeline.StatusCancelled, time.Now()
	webMust(t, e.store.UpdateBuild(ctx, b))
	if ev := next(t, ch); ev.name != "done" || ev.data.Status != pipeline.StatusCancelled {
		t.Errorf("first event %+v, want done: cancelled", ev)
	}
}

func TestWebEventsDoneWaitsForTheBuild(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	ctx := t.Context()
	now := time.Now()
	for _, name := range pipeline.Stages {
		webMust(t, e.store.PutStage(ctx, pipeline.Stage{BuildID: e.running.ID, Name: name, Status: pipeline.StatusSucceeded, Started: now, Finished: now}))
	}
	ch := openEvents(t, e, "/p/demo/slow/builds/1/events?from=deliver", "")
	if ev := next(t, ch); ev.name != "stage" || ev.data.Stage != pipeline.StageDeliver {
		t.Fatalf("first event %+v, want the end of deliver", ev)
	}
	select {
	case ev := <-ch:
		t.Fatalf("event %+v while the build is still recorded running", ev)
	case <-time.After(300 * time.Millisecond): // 30 polls
	}
	b := e.running
	b.Status, b.Finished = pipeline.StatusSucceeded, time.Now()
	webMust(t, e.store.UpdateBuild(ctx, b))
	if ev := next(t, ch); ev.name != "done" || ev.data.Status != pipeline.StatusSucceeded {
		t.Errorf("last event %+v, want done: succeeded", ev)
	}
}
