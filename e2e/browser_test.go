package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hoistci/hoist/internal/testenv"
)

// The browser tests drive a real Chromium (chromedp) against a real
// `hoist serve` with its embedded registry and a real engine, as a user
// would: sign in, register projects through the form, watch a build's log
// stream while it runs, read a failed build's error, and cancel a queued
// build from the Queue page.

const browserPassword = "not-a-secret-browser"

// browserRepos are the git repositories the browser tests register, each
// building on the examples' busybox image.
var browserRepos = map[string]map[string]string{
	// Counts slowly, so its log streams while the build stage runs.
	"hello.git": {"Dockerfile": busyboxFrom +
		"RUN for i in 1 2 3 4 5 6 7 8; do echo \"counting $i\"; sleep 1; done\nCMD [\"sh\", \"-c\", \"echo hello\"]\n"},
	"broken.git": {
		"Dockerfile": busyboxFrom + "COPY app.sh /app.sh\nRUN echo \"checking the configuration\" && sh /app.sh --check\nCMD [\"sh\", \"/app.sh\"]\n",
		"app.sh":     "echo \"config: DATABASE_URL is not set\" >&2\nexit 3\n",
	},
	// Plants an AWS key in one layer and deletes it in the next: the
	// secrets check still finds it, and delivery stops.
	"leaky.git": {"Dockerfile": busyboxFrom +
		"RUN mkdir -p /root/.aws && printf '[default]\\naws_access_key_id = AKIAZ7VQ3K4MHQ2XW5PL\\n' > /root/.aws/credentials\nRUN rm -r /root/.aws\nCMD [\"true\"]\n"},
	"slow.git":  {"Dockerfile": busyboxFrom + "RUN sleep 20\nCMD [\"true\"]\n"},
	"later.git": {"Dockerfile": busyboxFrom + "CMD [\"true\"]\n"},
}

// browserServer is a hoist serve with the examples' index, the browser
// repositories over git HTTP, and the user alice.
type browserServer struct {
	base    string // the server's URL
	gitBase string // the git HTTP server's URL
	data    string
	srv     *served
}

func startBrowserServer(t *testing.T, workers int) *browserServer {
	t.Helper()
	testenv.DockerHost(t)
	examples := copyExamples(t)
	repos := map[string]string{}
	for name, files := range browserRepos {
		repos[name] = testenv.GitRepo(t, files)
	}
	s := &browserServer{gitBase: serveRepos(t, repos), data: filepath.Join(t.TempDir(), "data")}
	addr := freeAddr(t)
	s.base = "http://" + addr
	s.srv = startServe(t, "serve", "--trust-index", "--index", filepath.Join(examples, "examples/index.d"), "--addr", addr,
		"--data", s.data, "--registry-addr", freeAddr(t), "--workers", fmt.Sprint(workers))
	if r := hoistStdin(t, browserPassword+"\n", nil, "user", "add", "--admin", "--data", s.data, "alice"); r.code != 0 {
		t.Fatalf("user add:\n%s", r)
	}
	return s
}

// browser is one Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
	srv *browserServer
}

// newBrowser starts a headless Chromium with a fresh profile. When the
// test fails, a screenshot of the page is saved and its path logged.
func newBrowser(t *testing.T, srv *browserServer) *browser {
	t.Helper()
	exe := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); acancel() })
	b := &browser{t: t, ctx: ctx, srv: srv}
	// The first action starts the browser, which lives as long as the
	// context it gets: give it the tab's own, not one with a timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	b.screenshotOnFailure(t)
	return b
}

// use makes t the test the browser reports to, until it ends; when t
// fails, a screenshot is saved.
func (b *browser) use(t *testing.T) {
	parent := b.t
	b.t = t
	b.screenshotOnFailure(t)
	t.Cleanup(func() { b.t = parent })
}

// screenshotOnFailure saves a screenshot when t ends failed.
func (b *browser) screenshotOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			b.failureScreenshot(t)
		}
	})
}

// failureScreenshot saves the whole page to a temp dir and logs where.
func (b *browser) failureScreenshot(t *testing.T) {
	shot := func(a chromedp.Action[[]byte]) ([]byte, error) {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		return chromedp.Run(ctx, a)
	}
	png, err := shot(chromedp.FullScreenshot(100))
	if err != nil {
		png, err = shot(chromedp.CaptureScreenshot())
	}
	if err != nil {
		t.Logf("no failure screenshot: %v", err)
		return
	}
	dir, err := os.MkdirTemp("", "hoist-browser-")
	if err == nil {
		path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png")
		if err = os.WriteFile(path, png, 0o644); err == nil {
			ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			defer cancel()
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Logf("failure screenshot of %s: %s", loc, path)
			return
		}
	}
	t.Logf("saving the failure screenshot: %v", err)
}

// do runs actions, failing the test on an error.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open navigates to path on the server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.srv.base + path))
}

// eval evaluates a JavaScript expression, failing the test on an error.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is true, across page loads.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out after %v waiting for %s (%s); last error %v\n--- server:\n%s", timeout, what, expr, err, b.srv.srv.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// text is the text of the first element matching the CSS selector, "" for none.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
}

// submit fills the form's fields (name → value) and submits it with its
// submit button.
func (b *browser) submit(form string, fields map[string]string) {
	b.t.Helper()
	for name, value := range fields {
		b.do(chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`%s [name=%q]`, form, name)), value))
	}
	b.do(chromedp.Click(chromedp.CSS(form + ` button[type=submit]`)))
}

// clickLive clicks the element sel names on a page that swaps its parts
// in live (the Queue, the projects list): found and clicked in one step,
// so that a swap between finding and clicking cannot leave a stale node.
func (b *browser) clickLive(sel string) {
	b.t.Helper()
	b.waitJS("a "+sel+" to click", fmt.Sprintf(`document.querySelector(%q)`, sel), 30*time.Second)
	b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, sel)))
}

// login signs in through the login form.
func (b *browser) login() {
	b.t.Helper()
	b.open("/login?next=/")
	b.submit(`form[action="/login"]`, map[string]string{"name": "alice", "password": browserPassword})
	b.waitJS("alice to be signed in", `document.querySelector("header .user") && document.querySelector("header .user").textContent == "alice"`, 30*time.Second)
}

// register registers a project through the form and waits for its first
// build's page.
func (b *browser) register(name, repo string) {
	b.t.Helper()
	b.open("/register")
	b.submit(`form[action="/register"]`, map[string]string{"name": name, "repo_url": b.srv.gitBase + "/" + repo,
		"branch": "main", "depends_on": "examples/busybox:latest"})
	b.waitJS("the first build's page of "+name, fmt.Sprintf(`location.pathname == "/p/%s/builds/1"`, name), 30*time.Second)
}

// buildStatus is the status the open build page shows.
func (b *browser) buildStatus() string {
	b.t.Helper()
	return eval[string](b, `(document.getElementById("build-live") || {dataset: {}}).dataset.status || ""`)
}

// waitBuild waits until the open build page shows status.
func (b *browser) waitBuild(status string, timeout time.Duration) {
	b.t.Helper()
	b.waitJS("the build to be "+status, fmt.Sprintf(`document.getElementById("build-live") && document.getElementById("build-live").dataset.status == %q`, status), timeout)
}

func TestBrowser(t *testing.T) {
	srv := startBrowserServer(t, 1)
	b := newBrowser(t, srv)

	b.login()
	// The base image the registered projects build on: tracking its index,
	// the server queued a build of every example when it started.
	b.open("/p/examples/busybox/builds/1")
	b.waitBuild("succeeded", 5*time.Minute)

	t.Run("register and watch the log stream", func(t *testing.T) {
		b.use(t)
		b.register("demo/hello", "hello.git")
		b.waitJS("the build log to stream", `(document.getElementById("log-build") || {}).textContent.includes("counting 3")`, 3*time.Minute)
		if st := b.buildStatus(); st != "running" {
			t.Errorf("the log streamed, but the build is already %q: want it still running", st)
		}
		b.waitBuild("succeeded", 3*time.Minute)
		log := b.text("#log-build")
		mustContain(t, "the streamed build log", log, "counting 1", "counting 8")
		if n := strings.Count(log, "counting 8"); n != 1 {
			t.Errorf("the streamed log has %d copies of its last line, want 1:\n%s", n, log)
		}
		mustContain(t, "the build summary", b.text(".summary.succeeded"), "Delivered", "demo/hello:latest", "sha256:")
		if n := eval[int](b, `document.querySelectorAll(".timeline li.s-succeeded").length`); n < 4 {
			t.Errorf("%d stages succeeded in the timeline, want at least 4:\n%s", n, b.text(".timeline"))
		}
	})

	t.Run("a failed build opens on its error", func(t *testing.T) {
		b.use(t)
		b.register("demo/broken", "broken.git")
		b.waitBuild("failed", 3*time.Minute)
		for _, when := range []string{"as it failed", "when opened again"} {
			mustContain(t, "the error summary "+when, b.text(".summary.failed"), "Failed in build", "returned a non-zero code: 3")
			mustContain(t, "the last lines "+when, b.text(".summary.failed pre.tail"), "config: DATABASE_URL is not set")
			if !eval[bool](b, `document.getElementById("stage-build").open`) {
				t.Errorf("the failing stage's log is not open %s", when)
			}
			if !eval[bool](b, `(r => r.top >= 0 && r.bottom <= innerHeight)(document.querySelector(".summary.failed").getBoundingClientRect())`) {
				t.Errorf("the error summary is not on screen %s", when)
			}
			b.open("/p/demo/broken/builds/1")
		}
		b.open("/failures")
		mustContain(t, "the Failures page", b.text("table.failures"), "demo/broken:latest", "build", "returned a non-zero code: 3")
	})

	t.Run("a failing check shows with its reason", func(t *testing.T) {
		b.use(t)
		b.register("demo/leaky", "leaky.git")
		b.waitBuild("failed", 3*time.Minute)
		mustContain(t, "the error summary", b.text(".summary.failed"), "Failed in test", "secrets")
		mustContain(t, "the failing checks", b.text(".summary.failed .failing-checks"), "1 blocking check failed", "secrets", "/root/.aws/credentials")
		// The results part fetches itself again when the build ends.
		b.waitJS("the checks to show the test stage's results", `(document.getElementById("checks") || {}).textContent.includes("no-hard-coded-passwords")`, 15*time.Second)
		mustContain(t, "the checks section", b.text("#checks"), "starts", "no-hard-coded-passwords", "secrets")
		if n := eval[int](b, `document.querySelectorAll("#checks .has-blocking").length`); n != 1 {
			t.Errorf("%d check groups are marked as blocking, want the predefined checks' one", n)
		}
		mustContain(t, "the JUnit link", b.text("body"), "junit.xml")
	})

	t.Run("cancel a queued build", func(t *testing.T) {
		b.use(t)
		b.register("demo/slow", "slow.git")
		b.waitBuild("running", time.Minute)
		b.register("demo/later", "later.git")
		if st := b.buildStatus(); st != "queued" {
			t.Fatalf("with one worker busy, the new build is %q, want queued", st)
		}
		b.open("/queue")
		b.acceptConfirm("Cancel build #1 of demo/later:latest?")
		b.clickLive(`form[action="/p/demo/later/builds/1/cancel"] button`)
		b.waitJS("the cancelled build to leave the queue", `location.pathname == "/queue" && !document.querySelector('#queue a[href="/p/demo/later/builds/1"]')`, 30*time.Second)
		mustContain(t, "the queue's notice", b.text(".notice"), "Build #1 of demo/later:latest: cancel requested")
		mustContain(t, "the queue", b.text("#queue"), "demo/slow:latest")

		b.open("/p/demo/later/builds/1")
		b.waitBuild("cancelled", 10*time.Second)
		mustContain(t, "the cancelled build", b.text(".summary.cancelled"), "cancelled by alice")
		var build struct {
			Status  string     `json:"status"`
			Started *time.Time `json:"started"`
		}
		out := get(t, srv.base+"/api/v1/projects/demo/later/builds?limit=1")
		var list struct{ Builds []json.RawMessage }
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Builds) != 1 {
			t.Fatalf("builds of demo/later: %v\n%s", err, out)
		}
		if err := json.Unmarshal(list.Builds[0], &build); err != nil {
			t.Fatal(err)
		}
		if build.Status != "cancelled" || build.Started != nil {
			t.Errorf("the cancelled build ran: %s", list.Builds[0])
		}

		// The running one is cancelled from the Queue page too: its engine work stops.
		b.open("/queue")
		b.acceptConfirm("Cancel build #1 of demo/slow:latest?")
		b.clickLive(`form[action="/p/demo/slow/builds/1/cancel"] button`)
		b.waitJS("the running build to leave the queue", `location.pathname == "/queue" && !document.querySelector('#queue a[href="/p/demo/slow/builds/1"]')`, time.Minute)
		b.open("/p/demo/slow/builds/1")
		b.waitBuild("cancelled", time.Minute)
	})

	t.Run("search projects, then go back", func(t *testing.T) {
		b.use(t)
		b.open("/")
		b.do(chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "brok"))
		b.waitJS("the list to filter in place", `location.search.includes("q=brok") && document.querySelectorAll("#projects tbody tr").length == 1`, 10*time.Second)
		mustContain(t, "the filtered list", b.text("#projects"), "demo/broken:latest")
		b.clickLive(`#projects a.name`)
		b.waitJS("the project page", `location.pathname == "/p/demo/broken"`, 10*time.Second)
		b.do(chromedp.NavigateBack())
		b.waitJS("the filtered list again", `location.search.includes("q=brok") && document.querySelectorAll("#projects tbody tr").length == 1`, 10*time.Second)
		b.do(chromedp.NavigateBack())
		b.waitJS("the whole list", `location.search == "" && document.querySelectorAll("#projects tbody tr").length > 5`, 10*time.Second)
	})
}
