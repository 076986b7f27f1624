package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hoistci/hoist/internal/testenv"
)

// startRegistry runs hoist registry with args until the test ends.
func startRegistry(t *testing.T, args ...string) *served {
	t.Helper()
	s := &served{cmd: exec.Command(hoistBin, append([]string{"registry"}, args...)...), out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	s.waitOutput(t, "serving the embedded registry on")
	return s
}

// TestEmbeddedRegistryTakesWritesFromHoistOnly: hoist run pushes (engine)
// and tags (go-containerregistry) with the credentials it generates; nobody
// else may push; anyone may pull, with docker too, unless reads are private.
func TestEmbeddedRegistryTakesWritesFromHoistOnly(t *testing.T) {
	testenv.DockerHost(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	if r := hoist(t, nil, "run", "--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/busybox", "--data", data, "--registry-addr", addr); r.code != 0 {
		t.Fatalf("delivering busybox:\n%s", r)
	}
	for path, want := range map[string]os.FileMode{data: 0o700, filepath.Join(data, "hoist.db"): 0o600,
		filepath.Join(data, "registry"): 0o700, filepath.Join(data, "registry", "hoist.password"): 0o600} {
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want %v", path, fi.Mode(), want)
		}
	}

	s := startRegistry(t, "--data", data, "--registry-addr", addr)
	ref := addr + "/examples/busybox:latest"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("an anonymous push over the delivered image: %v, want UNAUTHORIZED", err)
	}
	if _, err := remote.Head(r); err != nil {
		t.Errorf("an anonymous read: %v", err)
	}
	if out, err := exec.Command("docker", "pull", ref).CombinedOutput(); err != nil {
		t.Errorf("anonymous docker pull %s: %v\n%s", ref, err, out)
	} else {
		t.Cleanup(func() { _ = exec.Command("docker", "rmi", ref).Run() })
	}
	pw, err := os.ReadFile(filepath.Join(data, "registry", "hoist.password"))
	if err != nil {
		t.Fatal(err)
	}
	hoistAuth := authn.FromConfig(authn.AuthConfig{Username: "hoist", Password: strings.TrimSpace(string(pw))})
	if err := remote.Write(r.Context().Tag("written"), img, remote.WithAuth(hoistAuth)); err != nil {
		t.Errorf("a push with the generated credentials: %v", err)
	}
	s.stop(t)

	startRegistry(t, "--data", data, "--registry-addr", addr, "--public-read=false")
	if _, err := remote.Head(r); err == nil {
		t.Error("an anonymous read of a private registry worked")
	}
	if _, err := remote.Head(r, remote.WithAuth(hoistAuth)); err != nil {
		t.Errorf("a read with the generated credentials: %v", err)
	}
}
