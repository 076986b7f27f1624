package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// toolsImage builds, on the engine at host, an image of busybox and the
// host's docker client (with the libraries ldd names), as a project's own
// prebuild-image or test-image, and removes it when t ends. The client is
// at /usr/bin/docker in the image whatever its path on the host.
func toolsImage(t *testing.T, host string) string {
	t.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		testenv.Missing(t, "no docker client to put in the tools image")
	}
	dir := t.TempDir()
	testenv.BusyboxRootfs(t, dir)
	// ldd fails on a static client, which needs no libraries.
	out, _ := exec.Command("ldd", docker).Output()
	files := []string{docker}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files = append(files, f)
		}
	}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "rootfs", f)
		if i == 0 {
			dst = filepath.Join(dir, "rootfs", "usr", "bin", "docker")
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/bin:/bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(t.Context(), engine.Options{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ref := "hoist-e2e-tools:" + hex.EncodeToString(b)
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Dockerfile: "Dockerfile", Tags: []string{ref}}, &log); err != nil {
		t.Fatalf("building %s: %v\n%s", ref, err, log.String())
	}
	t.Cleanup(func() {
		if e, err := engine.New(context.Background(), engine.Options{Host: host}); err == nil {
			_ = e.RemoveImage(context.Background(), ref)
			e.Close()
		}
	})
	return ref
}

// TestRunScriptImages builds with hoist run a project whose cccp.yml names
// its own prebuild-image and test-image (busybox and a docker client). hoist
// run trusts its index: the prebuild script runs in that image with the
// engine and asks it for its version; the test-script, beside the image
// under test, docker-runs $IMAGE as cccp test-scripts do and reaches the
// running image on $TARGET_HOST. With --sandbox the same prebuild runs in
// that image without the engine, and the build fails saying how to get it.
func TestRunScriptImages(t *testing.T) {
	host := testenv.DockerHost(t)
	tools := toolsImage(t, host)
	repo := testenv.GitRepo(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY rootfs/ /\nCOPY www /www\nENV PATH=/bin\nUSER 10001\nEXPOSE 8080\n" +
			"LABEL org.opencontainers.image.description=\"a web server made in the project's own image\"\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
		"www/index.html": "hello from the image under test\n",
		"cccp.yml":       "job-id: tools\ntest-script: test.sh\nprebuild-image: " + tools + "\ntest-image: " + tools + "\n",
		"prebuild.sh": "#!/bin/sh\nset -eu\necho \"prebuild uid=$(id -u) DOCKER_HOST=${DOCKER_HOST:-}\"\n" +
			"mkdir -p rootfs/bin rootfs/etc\necho \"made in the prebuild-image\" > rootfs/etc/image\n" +
			"cp /bin/busybox rootfs/bin/busybox\nfor a in sh httpd cat; do ln -s busybox rootfs/bin/$a; done\n" +
			"docker version --format 'engine {{.Server.Version}}'\n",
		"test.sh": "#!/bin/sh\nset -eu\ndocker run --rm \"$IMAGE\" cat /etc/image\n" +
			"for i in 1 2 3 4 5 6 7 8 9 10; do\n  if page=$(wget -qO- \"http://$TARGET_HOST:8080/\"); then echo \"got: $page\"; exit 0; fi\n  sleep 1\ndone\nexit 1\n",
	})
	idx := writeIndex(t, "e2e", entry(1, "e2e", "tools", repo, "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"))

	data := filepath.Join(t.TempDir(), "data")
	r := hoist(t, nil, "run", "--index", idx, "--data", data, "--registry-addr", freeAddr(t))
	st := openStore(t, data)
	b, _ := lastBuild(t, st, "e2e/tools:latest")
	pre, test := stageLog(t, st, b.ID, pipeline.StagePrebuild), stageLog(t, st, b.ID, pipeline.StageTest)
	if r.code != 0 || b.Status != pipeline.StatusSucceeded {
		t.Fatalf("trusted build: %s %q\n%s\nprebuild log:\n%s\ntest log:\n%s", b.Status, b.Reason, r, pre, test)
	}
	uid := "prebuild uid=10001 "
	if os.Getuid() != 0 {
		uid = "prebuild uid="
	}
	mustContain(t, "prebuild log", pre, "in "+tools+" with the engine: the project is trusted", uid+"DOCKER_HOST=unix:///var/run/docker.sock", "engine ")
	mustContain(t, "test log", test, "in "+tools+" with the engine: the project is trusted", "made in the prebuild-image",
		"got: hello from the image under test", "PASS test-script")

	data = filepath.Join(t.TempDir(), "data")
	r = hoist(t, nil, "run", "--sandbox", "--index", idx, "--data", data, "--registry-addr", freeAddr(t))
	st = openStore(t, data)
	b, _ = lastBuild(t, st, "e2e/tools:latest")
	pre = stageLog(t, st, b.ID, pipeline.StagePrebuild)
	if r.code == 0 || b.FailedStage != pipeline.StagePrebuild || !strings.Contains(b.Reason, "it called docker") ||
		!strings.Contains(b.Reason, "a Hoist admin runs: hoist project trust e2e/tools") {
		t.Errorf("sandboxed build: %s at %s %q, want failed at prebuild naming hoist project trust\nprebuild log:\n%s", b.Status, b.FailedStage, b.Reason, pre)
	}
	mustContain(t, "sandboxed prebuild log", pre, "sandboxed in "+tools+": the project is not trusted", uid+"DOCKER_HOST=\n", "Cannot connect to the Docker daemon")
}
