package e2e

import (
	"path/filepath"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestRunCycle runs the examples when the FROM lines their last builds
// recorded make a cycle with each other (hello FROM web, web FROM hello),
// which the index alone cannot see: hoist run reports the cycle, records the
// two projects as skipped with the cycle as the reason, still delivers
// busybox, which is on no cycle, and exits 1.
func TestRunCycle(t *testing.T) {
	testenv.DockerHost(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	st := openStore(t, data)
	hello, _ := pipeline.ParseImageRef("examples/hello:latest")
	web, _ := pipeline.ParseImageRef("examples/web:v1.0.0")
	if err := st.SetFromImages(t.Context(), "examples/hello:latest", []pipeline.ImageRef{web}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetFromImages(t.Context(), "examples/web:v1.0.0", []pipeline.ImageRef{hello}); err != nil {
		t.Fatal(err)
	}

	r := hoist(t, nil, "run", "--index", filepath.Join(examples, "examples/index.d"), "--data", data, "--registry-addr", freeAddr(t))
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	const cycle = "examples/hello:latest builds on examples/web:v1.0.0 (FROM), which builds on examples/hello:latest (FROM)"
	mustContain(t, "stderr", r.stderr, "hoist: cycle in the image graph: "+cycle, "2 projects on it or built on it were not built")
	mustContain(t, "summary", r.stdout, "building 1 projects", "1 of 3 delivered")
	for _, key := range []string{"examples/hello:latest", "examples/web:v1.0.0"} {
		b, _ := lastBuild(t, st, key)
		if b.Status != pipeline.StatusSkipped || b.Reason != "on a cycle: "+cycle {
			t.Errorf("%s: %s %q, want skipped on the cycle", key, b.Status, b.Reason)
		}
	}
	if b, _ := lastBuild(t, st, "examples/busybox:latest"); b.Status != pipeline.StatusSucceeded {
		t.Errorf("busybox, on no cycle: %s %q, want succeeded", b.Status, b.Reason)
	}
}
