package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestWebProjectRebuilds(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	// demo/slow's last checkout found "FROM examples/app".
	app, _ := pipeline.ParseImageRef("examples/app")
	if err := e.store.SetFromImages(context.Background(), "demo/slow:latest", []pipeline.ImageRef{app}); err != nil {
		t.Fatal(err)
	}
	status, body := e.get("/p/examples/base", anon)
	if status != http.StatusOK {
		t.Fatalf("GET = %d\n%s", status, body)
	}
	for _, w := range []string{"If this changes, these rebuild", "examples/app:latest", "parent examples/base:latest rebuilds",
		"demo/slow:latest", "parent examples/app:latest rebuilds", `style="margin-left: 2em"`, "only their depends-on counts"} {
		if !strings.Contains(body, w) {
			t.Errorf("no %q in the project page", w)
		}
	}
	if i, j := strings.Index(body, "/p/examples/app\""), strings.Index(body, "/p/demo/slow\""); i < 0 || j < 0 || i > j {
		t.Errorf("examples/app should come before demo/slow in the rebuild list")
	}
	_, body = e.get("/p/demo/slow", anon)
	if !strings.Contains(body, "Nothing builds on it.") {
		t.Error("a leaf's page should say nothing builds on it")
	}
}
