package e2e

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestCheckoutTimeout runs `hoist run --checkout-timeout 3s` on a project
// whose git server accepts the connection and never answers: the build
// fails at checkout, saying so, instead of hanging.
func TestCheckoutTimeout(t *testing.T) {
	testenv.DockerHost(t)
	silent := testenv.SilentServer(t)
	data := t.TempDir()
	idx := writeIndex(t, "demo", entry(1, "demo", "silent", "http://"+silent+"/silent.git", ""))
	r := hoist(t, nil, "run", "--index", idx, "--data", data, "--registry-addr", freeAddr(t), "--checkout-timeout", "3s")
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	mustContain(t, "output", r.stdout+r.stderr, "checkout timed out after 3s")
	b, _ := lastBuild(t, openStore(t, data), "demo/silent:latest")
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageCheckout {
		t.Errorf("build %+v, want failed at checkout", b)
	}
	mustContain(t, "reason", b.Reason, "checkout timed out after 3s")
}
