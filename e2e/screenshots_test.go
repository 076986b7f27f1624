package e2e

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshots is where TestScreenshots writes the README's pictures:
//
//	go test ./e2e -run TestScreenshots -args -screenshots ../docs/screenshots
var screenshots = flag.String("screenshots", "", "write the README's screenshots of the web UI to this folder")

// TestScreenshots builds the examples and a few registered projects, one
// of which fails, and takes the README's screenshots of the projects page
// and of the failed build's page at 1280×800.
func TestScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("no -screenshots folder given")
	}
	srv := startBrowserServer(t, 2)
	r := hoist(t, nil, "token", "create", "--data", srv.data, "alice")
	if r.code != 0 {
		t.Fatalf("token create:\n%s", r)
	}
	token := strings.TrimSpace(r.stdout)
	api := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.base+"/api/v1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
		}
	}
	waitDone := func(project string) {
		t.Helper()
		waitFor(t, project+" to finish", func() bool { return getBuild(t, srv.base, project, 1).Status.Done() })
	}
	register := func(name, repo string) {
		api("/projects", fmt.Sprintf(`{"name":%q,"repo_url":%q,"branch":"main","depends_on":"examples/busybox:latest","email":"team@example.com"}`,
			name, srv.gitBase+"/"+repo))
	}

	api("/projects/examples/busybox/builds", "")
	waitDone("examples/busybox")
	api("/projects/examples/web:v1.0.0/builds", "")
	api("/projects/examples/hello/builds", "")
	register("demo/hello", "hello.git")
	register("demo/broken", "broken.git")
	for _, p := range []string{"examples/web:v1.0.0", "examples/hello", "demo/hello", "demo/broken"} {
		waitDone(p)
	}
	register("demo/slow", "slow.git")
	waitFor(t, "demo/slow to run", func() bool { return getBuild(t, srv.base, "demo/slow", 1).Status == "running" })

	b := newBrowser(t, srv)
	b.login()
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"projects.png": "/", "failed-build.png": "/p/demo/broken/builds/1"} {
		b.open(path)
		time.Sleep(500 * time.Millisecond) // let the fonts settle
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(*screenshots, name)
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%s)", out, path)
	}
}
