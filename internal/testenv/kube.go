package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// K3sScript is the path of scripts/k3s.sh in the module the test runs in.
func K3sScript(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "k3s.sh")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Kube returns the kubeconfig of the cluster scripts/k3s.sh runs, and a
// namespace of the test's own, deleted when the test ends. Without a
// cluster the test is skipped (failed in CI): `make test` starts one with
// `scripts/k3s.sh up`.
func Kube(t testing.TB) (kubeconfig, namespace string) {
	t.Helper()
	script := K3sScript(t)
	if out, err := exec.Command(script, "status").CombinedOutput(); err != nil {
		Missing(t, "no Kubernetes cluster: `scripts/k3s.sh up` starts one (make test does); status said: "+string(bytes.TrimSpace(out)))
	}
	out, err := exec.Command(script, "kubeconfig").Output()
	if err != nil {
		t.Fatalf("scripts/k3s.sh kubeconfig: %v", err)
	}
	kubeconfig = strings.TrimSpace(string(out))
	var b [4]byte
	_, _ = rand.Read(b[:])
	namespace = "hoist-test-" + hex.EncodeToString(b[:])
	if out, err := exec.Command(script, "kubectl", "create", "namespace", namespace).CombinedOutput(); err != nil {
		t.Fatalf("creating namespace %s: %v\n%s", namespace, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "kubectl", "delete", "namespace", namespace, "--wait=false").CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v\n%s", namespace, err, out)
		}
	})
	return kubeconfig, namespace
}
