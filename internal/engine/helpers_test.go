package engine

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/testenv"
)

// testLabel marks every image and container a test creates, so that its
// cleanup finds them all (intermediate images of failed builds included).
const testLabel = "org.hoistci.test"

// newEngine connects to the test machine's engine, or skips (fails in CI).
func newEngine(t *testing.T) *Engine {
	t.Helper()
	host := testenv.DockerHost(t)
	e, err := New(t.Context(), Options{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueID is a name, unique to this run of this test, usable as an image
// repository component and a label value.
func uniqueID(t *testing.T) string {
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	return "hoist-" + base + "-" + randomHex(4)
}

// writeFiles writes name → content files under dir, creating folders.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dockerfile returns a Dockerfile that starts a busybox image labelled with
// id and goes on with the given lines.
func dockerfile(id string, lines ...string) string {
	head := []string{"FROM scratch", "LABEL " + testLabel + "=" + id, "COPY rootfs/ /"}
	return strings.Join(append(head, lines...), "\n") + "\n"
}

// newContext creates a build context holding a busybox rootfs and files,
// and registers the removal of every image and container labelled id.
func newContext(t *testing.T, e *Engine, id string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	testenv.BusyboxRootfs(t, dir)
	writeFiles(t, dir, files)
	t.Cleanup(func() { removeLabelled(t, e, id) })
	return dir
}

// removeLabelled force-removes the containers and images labelled id.
func removeLabelled(t *testing.T, e *Engine, id string) {
	ctx := context.Background()
	filter := make(client.Filters).Add("label", testLabel+"="+id)
	cs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		t.Errorf("cleanup: listing containers: %v", err)
	}
	for _, c := range cs.Items {
		if _, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: removing container: %v", err)
		}
	}
	for pass := 0; ; pass++ {
		imgs, err := e.cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: filter})
		if err != nil || len(imgs.Items) == 0 {
			return
		}
		if pass == 5 {
			t.Errorf("cleanup: %d images labelled %s=%s remain", len(imgs.Items), testLabel, id)
			return
		}
		// Children go first: a parent with children cannot be removed.
		for _, img := range imgs.Items {
			_, _ = e.cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
	}
}

// countLabelled counts the containers, running or not, labelled id.
func countLabelled(t *testing.T, e *Engine, id string) int {
	t.Helper()
	filter := make(client.Filters).Add("label", testLabel+"="+id)
	cs, err := e.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs.Items)
}
