package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestWebProjectPageFollowsWrites: a project's page, kept while the
// store's list version does not change, shows every write at once, to an
// anonymous reader (whose whole page is kept) and to a signed-in one: a
// build's new status, a new build, a delivery, a scan, a child's FROM
// line; and a reader of some namespaces only never gets a kept page that
// shows what he may not read.
func TestWebProjectPageFollowsWrites(t *testing.T) {
	e := &webEnv{apiEnv: newAPIEnv(t, Options{PublicRead: true})}
	ctx := context.Background()
	e.putProject(testProject("ns", "a"))
	b := pipeline.Build{Project: "ns/a:latest", Status: pipeline.StatusQueued, Cause: "first cause", Created: time.Now()}
	webMust(t, e.store.CreateBuild(ctx, &b))
	page := func(what string, by authBy, wants ...string) {
		t.Helper()
		for range 2 { // read, then kept
			status, body := e.get("/p/ns/a", by)
			if status != http.StatusOK {
				t.Fatalf("%s: page = %d", what, status)
			}
			for _, want := range wants {
				if !strings.Contains(body, want) {
					t.Errorf("%s: the page has no %q", what, want)
				}
			}
		}
	}
	for _, by := range []authBy{anon, byCookie} {
		page("first", by, "first cause", `s-queued`)
	}
	b.Status, b.Finished = pipeline.StatusFailed, time.Now()
	b.FailedStage = pipeline.StageBuild
	webMust(t, e.store.UpdateBuild(ctx, b))
	page("after the build failed", anon, "s-failed", "in build")

	b2 := pipeline.Build{Project: "ns/a:latest", Status: pipeline.StatusSucceeded, Cause: "second cause", Created: time.Now()}
	webMust(t, e.store.CreateBuild(ctx, &b2))
	page("after a second build", byCookie, "second cause", "first cause")

	webMust(t, e.store.RecordImage(ctx, pipeline.DeliveredImage{Image: "reg.example/ns/a:latest", Project: "ns/a:latest",
		Digest: "sha256:" + strings.Repeat("12", 32), BuildID: b2.ID, Delivered: time.Now()}))
	page("after a delivery", anon, "reg.example/ns/a:latest")

	webMust(t, e.store.PutScan(ctx, &pipeline.Scan{Project: "ns/a:latest", Image: "reg.example/ns/a:latest",
		Digest: "sha256:" + strings.Repeat("12", 32), BuildID: b2.ID, Cause: "scan cause", Started: time.Now(), Finished: time.Now()}))
	page("after a scan", anon, "scan cause", "The first scan of this project")

	e.putProject(testProject("other", "child"))
	webMust(t, e.store.SetFromImages(ctx, "other/child:latest", []pipeline.ImageRef{{Namespace: "ns", Name: "a", Tag: "latest"}}))
	page("after a child's FROM line", anon, `href="/p/other/child"`)

	// On a server where reading is not public, bob reads only ns: the
	// page kept for an admin, whose rebuild plan shows other/child, is
	// not his.
	p := &webEnv{apiEnv: newAPIEnv(t, Options{})}
	p.putProject(testProject("ns", "a"))
	p.putProject(testProject("other", "child"))
	webMust(t, p.store.SetFromImages(ctx, "other/child:latest", []pipeline.ImageRef{{Namespace: "ns", Name: "a", Tag: "latest"}}))
	if _, body := p.get("/p/ns/a", byCookie); !strings.Contains(body, `href="/p/other/child"`) {
		t.Errorf("alice, an admin, does not see other/child on ns/a's page")
	}
	bob := p.addUser("bob", false)
	webMust(t, p.store.CreateNamespace(ctx, "ns", bob.ID, time.Now()))
	status, body := p.doAs(bob, "GET", "/p/ns/a", "")
	if status != http.StatusOK || !strings.Contains(body, "ns/a:latest") || strings.Contains(body, "other/child") {
		t.Errorf("bob's page = %d, want ns/a and not other/child:\n%s", status, body)
	}
}
