package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/testenv"
)

// onKube reports whether the end-to-end tests run hoist's stages as pods
// (HOIST_TEST_EXECUTOR=kubernetes: make test-k8s) rather than on the
// Docker engine.
func onKube() bool { return os.Getenv("HOIST_TEST_EXECUTOR") == "kubernetes" }

// executorArgs are the flags that put hoist run's or serve's stages on the
// executor under test: none for Docker; on Kubernetes, the cluster of
// scripts/k3s.sh and a namespace of the test's own, in which no pod may
// be left when the test ends. $HOIST_K8S_BUILDKIT_IMAGE names another
// BuildKit image than the node's hoist-buildkit:latest (one imported by
// hand, to try it without re-tagging the node's).
func executorArgs(t *testing.T) []string {
	t.Helper()
	if !onKube() {
		return nil
	}
	kubeconfig, ns := testenv.Kube(t)
	script := testenv.K3sScript(t)
	t.Cleanup(func() {
		out, err := exec.Command(script, "kubectl", "get", "pods", "-n", ns, "-o", "name").CombinedOutput()
		if err != nil {
			t.Errorf("listing the pods left in %s: %v\n%s", ns, err, out)
		} else if left := strings.TrimSpace(string(out)); left != "" {
			t.Errorf("pods left in namespace %s:\n%s", ns, left)
		}
	})
	args := []string{"--executor", "kubernetes", "--kubeconfig", kubeconfig, "--k8s-namespace", ns}
	if v := os.Getenv("HOIST_K8S_BUILDKIT_IMAGE"); v != "" {
		args = append(args, "--k8s-buildkit-image", v)
	}
	return args
}

// kubeNamespace is the namespace executorArgs named.
func kubeNamespace(args []string) string {
	for i, a := range args {
		if a == "--k8s-namespace" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// podsLeft lists the pods of namespace ns that match the label selector
// and are not being deleted: what a build left running in the cluster.
func podsLeft(t *testing.T, ns, selector string) []string {
	t.Helper()
	out, err := exec.Command(testenv.K3sScript(t), "kubectl", "get", "pods", "-n", ns, "-l", selector,
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}`).CombinedOutput()
	if err != nil {
		t.Fatalf("listing the pods of %s in %s: %v\n%s", selector, ns, err, out)
	}
	var left []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 1 {
			left = append(left, f[0])
		}
	}
	return left
}
