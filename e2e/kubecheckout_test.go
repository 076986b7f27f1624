package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestKubernetesCheckoutInAPod builds, tests and delivers the busybox
// example from a repository served over HTTP on the node's address: on
// Kubernetes its checkout runs in a pod, and the build, the tests and the
// delivery take the tree copied back from it.
func TestKubernetesCheckoutInAPod(t *testing.T) {
	if !onKube() {
		t.Skip("checkouts in pods: HOIST_TEST_EXECUTOR=kubernetes")
	}
	testenv.DockerHost(t)
	repo := copyExamples(t)
	url := testenv.GitHTTPServerOn(t, testenv.NodeIP(t), filepath.Dir(repo), "", "") + "/repo"
	index := writeIndex(t, "examples", strings.ReplaceAll(`  - id: 2
    app-id: examples
    job-id: busybox
    git-url: URL
    git-branch: main
    git-path: examples/busybox
    target-file: Dockerfile
    desired-tag: latest
    notify-email: you@example.com
    build-context: ./
    prebuild-script: examples/busybox/prebuild.sh
    prebuild-context: examples/busybox
    depends-on: null
`, "URL", url))
	data := filepath.Join(t.TempDir(), "data")
	args := executorArgs(t)
	r := hoist(t, nil, append([]string{"run", "--index", index, "--data", data, "--registry-addr", freeAddr(t), "-v"}, args...)...)
	if r.code != 0 {
		t.Fatalf("hoist run failed:\n%s", r)
	}
	st := openStore(t, data)
	b, stages := lastBuild(t, st, "examples/busybox:latest")
	if b.Status != pipeline.StatusSucceeded || len(b.Commit) != 40 {
		t.Errorf("build %+v; stages %+v", b, stages)
	}
	mustContain(t, "checkout log", stageLog(t, st, b.ID, pipeline.StageCheckout), "checking out in pod "+kubeNamespace(args)+"/hoist-checkout-", "$ git clone")
}
