package kube

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/testenv"
)

// nodeImage is the image scripts/k3s.sh imported into the node whose name
// starts with prefix.
func nodeImage(t *testing.T, prefix string) string {
	t.Helper()
	out, err := exec.Command(testenv.K3sScript(t), "images").Output()
	if err != nil {
		t.Fatalf("scripts/k3s.sh images: %v", err)
	}
	for _, ref := range strings.Fields(string(out)) {
		if strings.HasPrefix(ref, prefix) {
			return ref
		}
	}
	t.Fatalf("scripts/k3s.sh imported no %s image: %s", prefix, out)
	return ""
}

func toolboxImage(t *testing.T) string { return nodeImage(t, "hoist-toolbox:") }

// buildkitImage is $HOIST_K8S_BUILDKIT_IMAGE, an image of BuildKit imported
// into the node by hand (to try a new one without re-tagging the node's),
// else the one scripts/k3s.sh imported.
func buildkitImage(t *testing.T) string {
	if ref := os.Getenv("HOIST_K8S_BUILDKIT_IMAGE"); ref != "" {
		return ref
	}
	return nodeImage(t, "hoist-buildkit:")
}
