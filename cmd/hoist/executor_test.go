package main

import (
	"bytes"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/testenv"
)

// TestKubernetesCheckout: the runner's checkout (stageFlags.deps, which
// run, serve and worker build their runner with) runs in a pod with
// --executor kubernetes, or on the host with --k8s-checkout host, on the
// cluster of scripts/k3s.sh.
func TestKubernetesCheckout(t *testing.T) {
	kubeconfig, ns := testenv.Kube(t)
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	want := testenv.Git(t, repo, "rev-parse", "HEAD")
	url := testenv.GitHTTPServerOn(t, testenv.NodeIP(t), filepath.Dir(repo), "", "") + "/repo"
	for _, tc := range []struct {
		checkout string
		inPod    bool
	}{{"pod", true}, {"host", false}} {
		var sf stageFlags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		sf.register(fs)
		if err := fs.Parse([]string{"--executor", "kubernetes", "--kubeconfig", kubeconfig, "--k8s-namespace", ns, "--k8s-checkout", tc.checkout}); err != nil {
			t.Fatal(err)
		}
		exec, err := sf.exec.open(t.Context(), registryFlags{}, "127.0.0.1:1", nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		commit, err := sf.deps(&env{exec: exec}).Source.Checkout(t.Context(), url, "main", filepath.Join(t.TempDir(), "checkout"), &log)
		if err != nil || commit != want {
			t.Fatalf("--k8s-checkout %s: Checkout = %s, %v; want %s\nlog:\n%s", tc.checkout, commit, err, want, log.String())
		}
		if got := strings.Contains(log.String(), "checking out in pod "+ns+"/"); got != tc.inPod {
			t.Errorf("--k8s-checkout %s: checked out in a pod: %v; want %v\nlog:\n%s", tc.checkout, got, tc.inPod, log.String())
		}
	}

	var x executorFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	x.register(fs)
	if err := fs.Parse([]string{"--executor", "kubernetes", "--k8s-checkout", "cluster"}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.open(t.Context(), registryFlags{}, "127.0.0.1:1", nil, io.Discard); err == nil || !strings.Contains(err.Error(), `--k8s-checkout "cluster": want pod or host`) {
		t.Errorf("--k8s-checkout cluster: %v; want it refused", err)
	}
}
