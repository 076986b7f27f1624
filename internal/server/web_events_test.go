package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// event is one Server-Sent Event as the browser gets it.
type event struct {
	id, name string
	data     sseEvent
}

// openEvents connects to a build's event stream, with cookies, and returns
// its events.
func openEvents(t *testing.T, e *webEnv, path, lastID string, cookies ...*http.Cookie) <-chan event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", e.http.URL+path, nil)
	webMust(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := e.http.Client().Do(req)
	webMust(t, err)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan event)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
				ev = event{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			}
		}
	}()
	return ch
}

// next waits for the next event.
func next(t *testing.T, ch <-chan event) event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return event{}
}

func TestWebBuildEvents(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	ctx := context.Background()
	ch := openEvents(t, e, "/p/demo/slow/builds/1/events?from=checkout", "")
	e.log(e.running.ID, pipeline.StageCheckout, "cloning <repo>\n\x1b[32mgre")
	ev := next(t, ch)
	// Whole lines only, numbered and linkable; "gre" waits for its line's end.
	if ev.name != "log" || ev.data.Stage != pipeline.StageCheckout || ev.id != "checkout:15:1" ||
		!strings.HasPrefix(ev.data.HTML, `<span id="checkout-L1" data-t="`) ||
		!strings.HasSuffix(ev.data.HTML, `><a href="#checkout-L1">1</a>cloning &lt;repo&gt;`+"\n</span>") {
		t.Errorf("first event %+v", ev)
	}
	e.log(e.running.ID, pipeline.StageCheckout, "en\x1b[0m done\n")
	ev = next(t, ch)
	if !strings.HasSuffix(ev.data.HTML, `<a href="#checkout-L2">2</a><span class="fg-2">green</span> done`+"\n</span>") || ev.id != "checkout:35:2" {
		t.Errorf("second event %+v", ev)
	}
	// The stage ends, then the build: every later stage ends at once.
	now := time.Now()
	webMust(t, e.store.PutStage(ctx, pipeline.Stage{BuildID: e.running.ID, Name: pipeline.StageCheckout, Status: pipeline.StatusFailed,
		Started: now, Finished: now, Error: "clone failed"}))
	ev = next(t, ch)
	if ev.name != "stage" || ev.data.Status != pipeline.StatusFailed || !strings.Contains(ev.data.Summary, "clone failed") {
		t.Errorf("stage event %+v", ev)
	}
	b := e.running
	b.Status, b.FailedStage, b.Reason, b.Finished = pipeline.StatusFailed, pipeline.StageCheckout, "clone failed", now
	webMust(t, e.store.UpdateBuild(ctx, b))
	for _, stage := range pipeline.Stages[1:] {
		if ev := next(t, ch); ev.name != "stage" || ev.data.Stage != stage {
			t.Errorf("event %+v, want the end of %s", ev, stage)
		}
	}
	if ev := next(t, ch); ev.name != "done" || ev.data.Status != pipeline.StatusFailed {
		t.Errorf("last event %+v", ev)
	}

	// A browser that reconnects goes on from its last event.
	ch = openEvents(t, e, "/p/demo/slow/builds/1/events", "checkout:15:1")
	var html string
	for ev := next(t, ch); ev.name == "log"; ev = next(t, ch) {
		html += ev.data.HTML
	}
	if stripTags(html) != "2green done\n" || !strings.Contains(html, `id="checkout-L2"`) {
		t.Errorf("resumed log %q", html)
	}
	// So does a page that shows the first line: ?at= and ?line= say where it ends.
	ch = openEvents(t, e, "/p/demo/slow/builds/1/events?from=checkout&at=15&line=1", "")
	if ev := next(t, ch); !strings.Contains(ev.data.HTML, `id="checkout-L2"`) || strings.Contains(ev.data.HTML, "cloning") {
		t.Errorf("log from line 2: %+v", ev)
	}
}

func TestANSI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain <b> & \"q\"", "plain &lt;b&gt; &amp; &#34;q&#34;"},
		{"\x1b[31mred\x1b[0m ok", `<span class="fg-1">red</span> ok`},
		{"\x1b[1;92mbold bright\x1b[22m green\x1b[39m", `<span class="a-b fg-10">bold bright</span><span class="fg-10"> green</span>`},
		{"\x1b[38;5;196mx\x1b[m", `<span style="color:#ff0000">x</span>`},
		{"\x1b[38;5;4mx\x1b[m", `<span class="fg-4">x</span>`},
		{"\x1b[48;2;1;2;3mx", `<span style="background-color:#010203">x</span>`},
		{"a\x1b[2Kb\x1b[1Ac", "abc"},
		{"\x1b]0;title\x07text", "text"},
		{"line\r\nnext\rover", "line\nnext\nover"},
		{"bell\x07 tab\tend", "bell tab\tend"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"\x1b[31m<script>\x1b[0m", `<span class="fg-1">&lt;script&gt;</span>`},
	}
	for _, tt := range tests {
		if got := renderANSI(tt.in); got != tt.want {
			t.Errorf("renderANSI(%q) =\n %q, want\n %q", tt.in, got, tt.want)
		}
	}
	// Split anywhere, the stream renders the same text.
	in := "\x1b[1;31mé\x1b[0m\r\nok ✓\x1b]0;t\x07"
	for i := range len(in) + 1 {
		var a ansiHTML
		got := a.Write([]byte(in[:i])) + a.Write([]byte(in[i:])) + a.Close()
		if stripTags(got) != "é\nok ✓" {
			t.Errorf("split at %d: %q", i, got)
		}
	}
}

// stripTags drops HTML tags, leaving the text.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestAgo(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{2 * time.Second: "just now", 40 * time.Second: "40 s ago",
		3 * time.Minute: "3 min ago", 5 * time.Hour: "5 h ago", 72 * time.Hour: "3 days ago", 400 * 24 * time.Hour: "26 Jan 2024"} {
		if got := ago(now.Add(-d), now); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	if got := ago(time.Time{}, now); got != "never" {
		t.Errorf("ago(zero) = %q", got)
	}
}

func TestShortRepo(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/you/app.git":                          "github.com/you/app.git",
		"/tmp/TestScreenshots3868744086/001/repo/and/some/more/x": "…ts3868744086/001/repo/and/some/more/x",
	} {
		if got := shortRepo(in); got != want || len([]rune(got)) > 38 {
			t.Errorf("shortRepo(%q) = %q, want %q", in, got, want)
		}
	}
}
