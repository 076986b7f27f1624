package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserBuildPage drives the build page as a user does: watches a
// build turn to succeeded without reloading (the tab's title and icon
// too), links to and highlights log lines, searches the logs, shows the
// lines' times, downloads the whole log, rebuilds, and reads the pages at
// phone width. With HOIST_SCREENSHOTS=DIR it saves screenshots there.
func TestBrowserBuildPage(t *testing.T) {
	srv := startBrowserServer(t, 1)
	b := newBrowser(t, srv)
	b.login()
	b.open("/p/examples/busybox/builds/1")
	b.waitBuild("succeeded", 5*time.Minute)

	t.Run("a running build turns to succeeded without reload", func(t *testing.T) {
		b.use(t)
		b.register("demo/hello", "hello.git")
		b.do(chromedp.Evaluate[chromedp.Void](`window.hoistNoReload = true`))
		b.waitJS("the build log to stream", `(document.getElementById("log-build") || {}).textContent.includes("counting 2")`, 3*time.Minute)
		if title := eval[string](b, `document.title`); !strings.Contains(title, "running") {
			t.Errorf("the title of a running build is %q", title)
		}
		b.waitBuild("succeeded", 3*time.Minute)
		if !eval[bool](b, `window.hoistNoReload === true`) {
			t.Fatal("the page was reloaded")
		}
		b.waitJS("the title to say succeeded", `document.title.startsWith("demo/hello:latest #1 succeeded")`, 10*time.Second)
		if st := eval[string](b, `document.getElementById("favicon").dataset.status || ""`); st != "succeeded" {
			t.Errorf("the tab's icon shows %q, want succeeded", st)
		}
		// The streamed lines are numbered, each once.
		if n := eval[int](b, `document.querySelectorAll("#log-build > span[id]").length`); n < 10 ||
			eval[int](b, `new Set([...document.querySelectorAll("#log-build > span[id]")].map(e => e.id)).size`) != n {
			t.Errorf("%d streamed build lines, or some twice", n)
		}
	})

	t.Run("a line's anchor highlights it", func(t *testing.T) {
		b.use(t)
		b.open("/p/demo/hello/builds/1#build-L3-L5")
		b.waitJS("lines 3 to 5 to be highlighted", `document.querySelectorAll("#log-build > span.hl").length == 3`, 10*time.Second)
		if ids := eval[string](b, `[...document.querySelectorAll("span.hl")].map(e => e.id).join(",")`); ids != "build-L3,build-L4,build-L5" {
			t.Errorf("highlighted %q", ids)
		}
		if !eval[bool](b, `document.getElementById("stage-build").open`) {
			t.Error("the stage of the linked lines is not open")
		}
		if !eval[bool](b, `(r => r.top >= 0 && r.bottom <= innerHeight)(document.getElementById("build-L3").getBoundingClientRect())`) {
			t.Error("the linked line is not on screen")
		}
		b.shot("build-log-lines.png")
		b.do(chromedp.Click(chromedp.CSS(`#build-L7 > a`)))
		b.waitJS("line 7 to be linked", `location.hash == "#build-L7" && document.getElementById("build-L7").classList.contains("hl")`, 5*time.Second)
		b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#build-L9 > a").dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, shiftKey: true}))`))
		b.waitJS("lines 7 to 9 to be linked", `location.hash == "#build-L7-L9" && document.querySelectorAll("span.hl").length == 3`, 5*time.Second)
		if !eval[bool](b, `!!document.querySelector("#build-L7 button.copy-link")`) {
			t.Error("no copy link button on the linked lines")
		}
	})

	t.Run("search finds and counts", func(t *testing.T) {
		b.use(t)
		b.open("/p/demo/hello/builds/1")
		b.do(chromedp.SendKeys(chromedp.CSS(`#log-search`), "counting"))
		b.waitJS("the first match", `/^1 of \d+$/.test(document.getElementById("log-count").textContent)`, 10*time.Second)
		count := b.text("#log-count")
		m := regexp.MustCompile(`of (\d+)`).FindStringSubmatch(count)
		want := eval[int](b, `[...document.querySelectorAll("pre.log > span[id]")].filter(e => e.textContent.replace(/^\d+/, "").includes("counting")).length`)
		if m == nil || m[1] != strconv.Itoa(want) || want < 8 {
			t.Errorf("count %q, want %d matching lines (at least 8)", count, want)
		}
		b.do(chromedp.SendKeys(chromedp.CSS(`#log-search`), "\r"))
		b.waitJS("the second match", `document.getElementById("log-count").textContent.startsWith("2 of ")`, 5*time.Second)
		if !eval[bool](b, `(e => e && (r => r.top >= 0 && r.bottom <= innerHeight)(e.getBoundingClientRect()))(document.querySelector("span.match-cur"))`) {
			t.Error("the current match is not on screen")
		}
		b.do(chromedp.Click(chromedp.CSS(`#log-prev`)))
		b.waitJS("back to the first match", `document.getElementById("log-count").textContent.startsWith("1 of ")`, 5*time.Second)
		b.shot("build-log-search.png")
		b.do(chromedp.SetValue(chromedp.CSS(`#log-search`), "no such text anywhere"), chromedp.SendKeys(chromedp.CSS(`#log-search`), "\r"))
		b.waitJS("no match", `document.getElementById("log-count").textContent == "no match"`, 5*time.Second)
	})

	t.Run("timestamps and the whole log", func(t *testing.T) {
		b.use(t)
		b.open("/p/demo/hello/builds/1")
		b.do(chromedp.Click(chromedp.CSS(`#log-times`)))
		b.waitJS("the lines' times", `document.querySelector(".logs.times") && /^\d\d:\d\d:\d\d\.\d{3}$/.test(document.getElementById("build-L1").dataset.ts || "")`, 5*time.Second)
		log := eval[string](b, `(x => (x.open("GET", document.getElementById("log-download").href, false), x.send(), x.responseText))(new XMLHttpRequest())`)
		mustContain(t, "the downloaded log", log, "# demo/hello:latest #1: succeeded", "==> checkout: succeeded", "==> build: succeeded", "counting 8", "==> deliver: succeeded")
		b.do(chromedp.Click(chromedp.CSS(`#log-times`))) // off again, for the next pages
	})

	t.Run("Rebuild queues a build of the same commit", func(t *testing.T) {
		b.use(t)
		b.open("/p/demo/hello/builds/1")
		commit := eval[string](b, `document.querySelector(".meta .mono[title]").title`)
		b.do(chromedp.Click(chromedp.CSS(`form.rebuild button`)))
		b.waitJS("the rebuild's page", `location.pathname == "/p/demo/hello/builds/2"`, 30*time.Second)
		mustContain(t, "the rebuild's cause", b.text(".meta"), "rebuild of #1 by alice")
		b.waitBuild("succeeded", 3*time.Minute)
		mustContain(t, "the rebuild's checkout log", b.text("#log-checkout"), "rebuilding commit "+commit)
	})

	t.Run("the projects list shows a new build without reload", func(t *testing.T) {
		b.use(t)
		r := hoist(t, nil, "token", "create", "--data", srv.data, "alice")
		if r.code != 0 {
			t.Fatalf("token create:\n%s", r)
		}
		b.open("/")
		b.waitJS("the projects list", `!!document.querySelector('#projects a[href="/p/examples/hello/builds/1"]')`, 10*time.Second)
		b.do(chromedp.Evaluate[chromedp.Void](`window.hoistNoReload = true`))
		req, _ := http.NewRequest("POST", srv.base+"/api/v1/projects/examples/hello/builds", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(r.stdout))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("POST builds: %v %v", resp, err)
		}
		resp.Body.Close()
		b.waitJS("build #2 of examples/hello in the list", `!!document.querySelector('#projects a[href="/p/examples/hello/builds/2"]')`, time.Minute)
		if !eval[bool](b, `window.hoistNoReload === true`) {
			t.Fatal("the page was reloaded")
		}
		b.waitJS("build #2 to end in the list", `(e => e && !/running|queued/.test(e.textContent))(document.querySelector('#projects a[href="/p/examples/hello/builds/2"]').closest("td"))`, 3*time.Minute)
	})

	t.Run("a rejected form puts the focus on its first error", func(t *testing.T) {
		b.use(t)
		b.open("/register")
		b.submit(`form[action="/register"]`, map[string]string{"name": "demo/focus", "repo_url": "https://example.com/x.git", "depends_on": "not an image!"})
		b.waitJS("the form back with its errors", `!!document.querySelector("[aria-invalid=true]")`, 30*time.Second)
		first := eval[string](b, `document.querySelector("[aria-invalid=true]").id`)
		if id := eval[string](b, `document.activeElement.id`); id != first || id == "" {
			t.Errorf("the focus is on %q, want %q, the first field in error", id, first)
		}
		// Tab from the top of a page reaches the skip link first.
		b.open("/")
		b.do(chromedp.KeyEvent("\t"))
		if got := eval[string](b, `document.activeElement.className + " " + document.activeElement.getAttribute("href")`); got != "skip #main" {
			t.Errorf("the first Tab reaches %q, want the skip link", got)
		}
	})

	t.Run("a phone-width page has no horizontal scroll", func(t *testing.T) {
		b.use(t)
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer b.do(chromedp.EmulateViewport(1280, 800))
		for _, path := range []string{"/p/demo/hello/builds/1#build-L3", "/", "/queue", "/p/demo/hello"} {
			b.open(path)
			b.waitJS(path+" to load", `document.readyState == "complete"`, 10*time.Second)
			if w := eval[[]int](b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
				t.Errorf("%s is %d px wide in a %d px window", path, w[0], w[1])
			}
			if path == "/p/demo/hello/builds/1#build-L3" {
				b.shot("build-phone.png")
			}
		}
	})
}

// shot saves a screenshot of the window as name when HOIST_SCREENSHOTS
// names a folder.
func (b *browser) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("HOIST_SCREENSHOTS")
	if dir == "" {
		return
	}
	time.Sleep(300 * time.Millisecond) // let the page settle
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// acceptConfirm answers the page's next confirm() with OK, failing the
// test when it asks something other than question.
func (b *browser) acceptConfirm(question string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.confirm = q => { if (q !== %q) throw new Error("asked " + q); return true; }`, question)))
}
