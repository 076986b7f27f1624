package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/testenv"
)

// busyboxDockerfile builds on the examples' busybox image, which the tests
// deliver first.
const busyboxFrom = "FROM examples/busybox:latest\n"

// writeIndex writes an index.d/<app>.yaml with entries and returns its folder.
func writeIndex(t *testing.T, app string, entries ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "index.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "Projects:\n" + strings.Join(entries, "")
	if err := os.WriteFile(filepath.Join(dir, app+".yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func entry(id int, app, job, url string, extra string) string {
	return fmt.Sprintf(`  - id: %d
    app-id: %s
    job-id: %s
    git-url: %s
    git-branch: main
    git-path: /
    target-file: Dockerfile
    desired-tag: latest
    notify-email: dev@example.com
    build-context: ./
%s`, id, app, job, url, extra)
}

// TestFailures builds, over a real git HTTP server, a project whose build
// fails, a project whose test fails after an earlier good delivery, and a
// child of the broken one. It checks the failing stage, the reason, the
// logs, that nothing new was delivered and the earlier delivery is intact,
// and then delivers to an external registry (Debian's docker-registry).
func TestFailures(t *testing.T) {
	testenv.DockerHost(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	ctx := context.Background()
	xargs := executorArgs(t)
	run := func(args ...string) result {
		return hoist(t, nil, append(append([]string{"run"}, args...), xargs...)...)
	}

	// The base image the failing projects build on.
	if r := run("--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/busybox", "--data", data, "--registry-addr", addr); r.code != 0 {
		t.Fatalf("delivering busybox:\n%s", r)
	}

	broken := testenv.GitRepo(t, map[string]string{"Dockerfile": busyboxFrom + "RUN echo about to fail && false\nCMD [\"true\"]\n"})
	// flaky's test fails when its image has /version2. Its image serves
	// its root folder: beside it (on Kubernetes every test-script runs
	// there, with no engine) the script asks it on $TARGET_HOST; on the
	// host it runs the image with docker, as examples/web/test.sh does.
	flakyCmd := "CMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/\"]\n"
	flaky := testenv.GitRepo(t, map[string]string{
		"Dockerfile": busyboxFrom + flakyCmd,
		"cccp.yml":   "job-id: flaky\ntest-skip: false\ntest-script: test.sh\n",
		"test.sh": `#!/bin/sh
echo "testing $IMAGE"
if [ -z "${TARGET_HOST:-}" ]; then
  exec docker run --rm "$IMAGE" sh -c 'test -e /version2 && echo version2 && exit 4; echo fine'
fi
for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O /dev/null "http://$TARGET_HOST:8080/bin/busybox" && break; sleep 0.5; done
wget -q -O /dev/null "http://$TARGET_HOST:8080/version2" && echo version2 && exit 4
echo fine
`,
	})
	base := serveRepos(t, map[string]string{"broken.git": broken, "flaky.git": flaky})
	idx := writeIndex(t, "demo",
		entry(1, "demo", "broken", base+"/broken.git", ""),
		entry(2, "demo", "flaky", base+"/flaky.git", ""),
		entry(3, "demo", "child", base+"/broken.git", "    depends-on: demo/broken\n"),
	)
	// First run: broken fails, child is skipped, flaky is delivered.
	r := run("--index", idx, "--data", data, "--registry-addr", addr)
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	mustContain(t, "summary", r.stdout, "demo/broken:latest", "failed", "demo/child:latest", "parent demo/broken:latest failed")
	st := openStore(t, data)
	b, stages := lastBuild(t, st, "demo/broken:latest")
	// Docker's classic builder and BuildKit (on Kubernetes, which names
	// the Dockerfile's line too) word a failed RUN step differently.
	failedRun := "returned a non-zero code: 1"
	if onKube() {
		failedRun = "Dockerfile:2: process \"/bin/sh -c echo about to fail && false\" did not complete successfully: exit code: 1"
	}
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageBuild || !strings.Contains(b.Reason, failedRun) {
		t.Errorf("broken: %+v", b)
	}
	if stages[pipeline.StageTest].Status != pipeline.StatusSkipped || stages[pipeline.StageDeliver].Status != pipeline.StatusSkipped {
		t.Errorf("broken: stages after build ran: %+v", stages)
	}
	mustContain(t, "broken build log", stageLog(t, st, b.ID, pipeline.StageBuild), "about to fail", "build failed:")
	child, _ := lastBuild(t, st, "demo/child:latest")
	if child.Status != pipeline.StatusSkipped || child.Reason != "parent demo/broken:latest failed" {
		t.Errorf("child: %+v", child)
	}
	good, _ := lastBuild(t, st, "demo/flaky:latest")
	if good.Status != pipeline.StatusSucceeded {
		t.Fatalf("flaky v1: %+v", good)
	}

	// Second run: flaky's new commit fails its test; the delivered tag stays.
	testenv.Commit(t, flaky, map[string]string{"Dockerfile": busyboxFrom + "RUN touch /version2\n" + flakyCmd}, "v2")
	r = run("--index", idx, "--data", data, "--registry-addr", addr)
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	b, _ = lastBuild(t, st, "demo/flaky:latest")
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageTest || !strings.Contains(b.Reason, "test-script") || b.Number != 2 {
		t.Errorf("flaky v2: %+v", b)
	}
	mustContain(t, "flaky test log", stageLog(t, st, b.ID, pipeline.StageTest), "version2", "exited with status 4")
	images, err := st.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range images {
		if strings.Contains(img.Image, "demo/broken") || strings.Contains(img.Image, "demo/child") {
			t.Errorf("delivered %s of a failed project", img.Image)
		}
		if img.Project == "demo/flaky:latest" && (img.Digest != good.Digest || img.BuildID != good.ID) {
			t.Errorf("flaky's delivered image changed: %+v, want build %d %s", img, good.ID, good.Digest)
		}
	}
	srv, err := registry.Serve(ctx, registry.ServerConfig{Addr: addr, RootDir: filepath.Join(data, "registry")})
	if err != nil {
		t.Fatal(err)
	}
	client := registry.New(registry.Options{})
	if d, err := client.Digest(ctx, addr+"/demo/flaky:latest"); err != nil || d != good.Digest {
		t.Errorf("demo/flaky:latest is %s (%v), want the first delivery %s", d, err, good.Digest)
	}
	if _, err := client.Digest(ctx, addr+"/demo/broken:latest"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("demo/broken:latest exists: %v", err)
	}
	srv.Close()

	// Deliver to an external registry: Debian's docker-registry.
	ext := testenv.DockerRegistry(t)
	r = run("--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/hello", "--data", data, "--registry", ext)
	if r.code != 0 {
		t.Fatalf("delivering to %s:\n%s", ext, r)
	}
	hello, _ := lastBuild(t, st, "examples/hello:latest")
	for _, tag := range []string{"test", "rc", "latest"} {
		if d, err := client.Digest(ctx, ext+"/examples/hello:"+tag); err != nil || d != hello.Digest {
			t.Errorf("%s/examples/hello:%s is %s (%v), want %s", ext, tag, d, err, hello.Digest)
		}
	}
}

// TestNoEngine checks that a missing engine gives one clear message.
func TestNoEngine(t *testing.T) {
	idx := writeIndex(t, "demo", entry(1, "demo", "x", "https://example.invalid/x.git", ""))
	r := hoist(t, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "run", "--index", idx, "--data", t.TempDir(), "--registry-addr", freeAddr(t))
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	mustContain(t, "stderr", r.stderr, "no container engine", "apt-get install")
	for _, bad := range []string{"panic", "goroutine "} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr has %q:\n%s", bad, r.stderr)
		}
	}
}
