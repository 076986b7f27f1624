package kube

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// busyboxWorkspace is a workspace holding a busybox rootfs and a
// Dockerfile of content.
func busyboxWorkspace(t *testing.T, dockerfile string) string {
	t.Helper()
	ws := t.TempDir()
	testenv.BusyboxRootfs(t, ws)
	putFile(t, filepath.Join(ws, "Dockerfile"), dockerfile)
	return ws
}

func putFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const busyboxDockerfile = `FROM scratch
COPY rootfs/ /
ARG GREETING=none
ENV PATH=/bin GREETING=$GREETING
RUN echo "$GREETING" > /greeting && mkdir /srv
USER 1000
WORKDIR /srv
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["sh", "-c"]
CMD ["cat /greeting"]
`

func TestBuildPushesAndInspectImageReadsIt(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ctx := pipeline.WithOwner(t.Context(), pipeline.Owner{Instance: "kubetest", Build: 7})
	ws := busyboxWorkspace(t, busyboxDockerfile)
	putFile(t, filepath.Join(ws, "secret.txt"), "not for the image\n")
	putFile(t, filepath.Join(ws, ".dockerignore"), "secret.txt\n")
	var log bytes.Buffer
	start := time.Now()
	id, err := x.Build(ctx, pipeline.BuildSpec{
		Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile",
		Tags:      []string{"app:test", reg + "/other/app:1"},
		Labels:    map[string]string{"io.hoist.build": "7", "tricky": `a "quoted" $value`},
		BuildArgs: map[string]string{"GREETING": "hello kube"},
	}, &log)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	t.Logf("build took %v; log:\n%s", time.Since(start), log.String())
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("image ID %q; want a digest", id)
	}
	if !strings.Contains(log.String(), "RUN echo") {
		t.Errorf("the build log has no RUN step:\n%s", log.String())
	}
	cfg, err := x.InspectImage(ctx, "app:test")
	if err != nil {
		t.Fatalf("InspectImage: %v", err)
	}
	if cfg.ID != id || cfg.Digest != id || cfg.Size <= 0 {
		t.Errorf("InspectImage: ID %s, digest %s, size %d; want the build's %s and a size", cfg.ID, cfg.Digest, cfg.Size, id)
	}
	want := pipeline.ImageConfig{
		Entrypoint: []string{"sh", "-c"}, Cmd: []string{"cat /greeting"}, User: "1000", WorkingDir: "/srv",
		ExposedPorts: []string{"8080/tcp"}, Volumes: []string{"/data"},
	}
	if strings.Join(cfg.Entrypoint, " ") != strings.Join(want.Entrypoint, " ") || strings.Join(cfg.Cmd, " ") != strings.Join(want.Cmd, " ") ||
		cfg.User != want.User || cfg.WorkingDir != want.WorkingDir ||
		strings.Join(cfg.ExposedPorts, ",") != "8080/tcp" || strings.Join(cfg.Volumes, ",") != "/data" {
		t.Errorf("InspectImage: %+v; want %+v", cfg, want)
	}
	if cfg.Labels["io.hoist.build"] != "7" || cfg.Labels["tricky"] != `a "quoted" $value` {
		t.Errorf("labels %v; want the build's", cfg.Labels)
	}
	if !slices.Contains(cfg.Env, "GREETING=hello kube") {
		t.Errorf("env %v; want the build arg in GREETING", cfg.Env)
	}
	other, err := x.InspectImage(ctx, reg+"/other/app:1")
	if err != nil || other.Digest != id {
		t.Errorf("InspectImage of the second tag: %+v, %v; want the same image", other, err)
	}
	// The image holds what the RUN step wrote and not what .dockerignore
	// leaves out: a build FROM it shows.
	ws2 := t.TempDir()
	putFile(t, filepath.Join(ws2, "Dockerfile"), "FROM app:test\nRUN cat /greeting && test ! -e /secret.txt && ! ls /rootfs\n")
	log.Reset()
	if _, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws2, ContextDir: ws2, Tags: []string{"app:child"}}, &log); err != nil {
		t.Fatalf("Build FROM app:test: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "hello kube") {
		t.Errorf("the child's RUN did not print the parent's greeting:\n%s", log.String())
	}
	assertNoPodLeft(t, x)
}

func TestBuildOnThePinnedParent(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ctx := t.Context()
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\nRUN echo pinned > /who\n")
	var log bytes.Buffer
	if _, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{reg + "/lib/parent:1"}}, &log); err != nil {
		t.Fatalf("Build of the parent: %v\n%s", err, log.String())
	}
	digest, err := x.Push(ctx, reg+"/lib/parent:1", &log)
	if err != nil || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("Push: %q, %v", digest, err)
	}
	// A decoy under the name the child's FROM writes, kept where local
	// names are: the pin wins over it.
	putFile(t, filepath.Join(ws, "Dockerfile.decoy"), "FROM scratch\nCOPY rootfs/ /\nRUN echo decoy > /who\n")
	if _, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile.decoy", Tags: []string{"team/base:stable"}}, &log); err != nil {
		t.Fatalf("Build of the decoy: %v\n%s", err, log.String())
	}
	putFile(t, filepath.Join(ws, "Dockerfile.child"), "ARG BASE=team/base:stable\nFROM ${BASE} AS first\nRUN cat /who\nFROM first\n")
	log.Reset()
	_, err = x.Build(ctx, pipeline.BuildSpec{
		Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile.child", Tags: []string{"app:child"},
		From: map[string]string{"team/base:stable": reg + "/lib/parent@" + digest},
	}, &log)
	if err != nil {
		t.Fatalf("Build of the child: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "pinned") || strings.Contains(log.String(), "decoy") {
		t.Errorf("the child was not built on the pinned parent:\n%s", log.String())
	}
	// As a Docker engine tags a pin locally, the name now is the pinned
	// parent: a compose service naming it runs what the child built on.
	if cfg, err := x.InspectImage(ctx, "team/base:stable"); err != nil || cfg.Digest != digest {
		t.Errorf("InspectImage(team/base:stable) = %s, %v; want the pinned %s", cfg.Digest, err, digest)
	}
}

func TestBuildFailingStepSaysBuildKitsError(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ws := busyboxWorkspace(t, "")
	if err := os.Mkdir(filepath.Join(ws, "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	putFile(t, filepath.Join(ws, "docker", "Dockerfile"), "FROM scratch\nCOPY rootfs/ /\nRUN echo before && false\n")
	var log bytes.Buffer
	_, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Dockerfile: "docker/Dockerfile", Tags: []string{"app:fails"}}, &log)
	want := `docker/Dockerfile:3: process "/bin/sh -c echo before && false" did not complete successfully: exit code: 1`
	if err == nil || err.Error() != want {
		t.Errorf("Build: %v; want %q", err, want)
	}
	if !strings.Contains(log.String(), "before") {
		t.Errorf("the log lacks the step's output:\n%s", log.String())
	}
	// A Dockerfile outside the context (inside the workspace) is read
	// from where it is; COPY reads the context.
	putFile(t, filepath.Join(ws, "Dockerfile.outside"), "FROM scratch\nCOPY Dockerfile /copied\n")
	log.Reset()
	if _, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: filepath.Join(ws, "docker"), Dockerfile: "../Dockerfile.outside", Tags: []string{"app:outside"}}, &log); err != nil {
		t.Errorf("Build with the Dockerfile outside the context: %v\n%s", err, log.String())
	}
	if ok, err := x.ImageExists(t.Context(), "app:fails"); ok || err != nil {
		t.Errorf("ImageExists after a failed build: %v, %v; want false", ok, err)
	}
	assertNoPodLeft(t, x)
}

func TestBuildRefusesAContextOutsideTheWorkspace(t *testing.T) {
	x := newTestExecutor(t, "127.0.0.1:1")
	ws, outside := t.TempDir(), t.TempDir()
	putFile(t, filepath.Join(outside, "Dockerfile"), "FROM scratch\n")
	if err := os.Symlink(outside, filepath.Join(ws, "link")); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []pipeline.BuildSpec{
		{Workspace: ws, ContextDir: outside},
		{Workspace: ws, ContextDir: filepath.Join(ws, "link")},
		{Workspace: ws, ContextDir: ws, Dockerfile: "../" + filepath.Base(outside) + "/Dockerfile"},
	} {
		_, err := x.Build(t.Context(), spec, nil)
		if err == nil || !strings.Contains(err.Error(), "outside the build's workspace") {
			t.Errorf("Build of %+v: %v; want it refused as outside the workspace", spec, err)
		}
	}
	// Nor does it start a pod for a build it cannot keep.
	putFile(t, filepath.Join(ws, "Dockerfile"), "FROM scratch\n")
	if _, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws}, nil); err == nil || !strings.Contains(err.Error(), "no tag") {
		t.Errorf("Build without a tag: %v; want an error saying so", err)
	}
	x.opts.Registry = ""
	if _, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:1"}}, nil); err == nil || !strings.Contains(err.Error(), "image app:1 names no registry") {
		t.Errorf("Build of a local name without a registry: %v; want an error saying so", err)
	}
	assertNoPodLeft(t, x)
}

func TestBuildCancelledStopsAndDeletesThePod(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\nRUN echo sleeping && sleep 300\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := &lockedLog{}
	errc := make(chan error, 1)
	go func() {
		_, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:slow"}}, log)
		errc <- err
	}()
	for end := time.Now().Add(3 * time.Minute); !strings.Contains(log.String(), "sleeping"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the RUN step did not start within 3 minutes:\n%s", log.String())
		}
	}
	cancel()
	start := time.Now()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Build: %v; want context.Canceled", err)
		}
		t.Logf("Build returned %v after the cancel", time.Since(start))
	case <-time.After(15 * time.Second):
		t.Fatalf("Build did not return within 15 s of the cancel")
	}
	assertNoPodLeft(t, x)
}

// assertNoPodLeft fails the test when the namespace still has pods.
func assertNoPodLeft(t *testing.T, x *Executor) {
	t.Helper()
	pods, err := x.cs.CoreV1().Pods(x.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		t.Errorf("pod %s is left (%s)", p.Name, p.Status.Phase)
	}
}

// lockedLog is a log written by one goroutine and read by another.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBuildsInParallel: buildkitd pods share the node's network, so they
// must not share a port: two builds at once both finish.
func TestBuildsInParallel(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\nARG N\nRUN sleep 2 && echo $N > /n\n")
	errs := make(chan error, 2)
	for _, n := range []string{"1", "2"} {
		go func() {
			var log bytes.Buffer
			_, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:" + n}, BuildArgs: map[string]string{"N": n}}, &log)
			if err != nil {
				err = errors.New(err.Error() + "\n" + log.String())
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Build: %v", err)
		}
	}
	if a, b := inspectDigest(t, x, "app:1"), inspectDigest(t, x, "app:2"); a == b {
		t.Errorf("both builds made %s; want two images", a)
	}
	assertNoPodLeft(t, x)
}

func inspectDigest(t *testing.T, x *Executor, ref string) string {
	t.Helper()
	cfg, err := x.InspectImage(t.Context(), ref)
	if err != nil {
		t.Fatalf("InspectImage(%s): %v", ref, err)
	}
	return cfg.Digest
}

// TestBuildUsesTheCacheOfTheLastBuild: each build has a new buildkitd, and
// the cache kept in the registry spares a rebuild its steps.
func TestBuildUsesTheCacheOfTheLastBuild(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\nRUN echo ran-$((1+1)) && date +%s%N > /stamp\nCOPY changed.txt /\n")
	var digests []string
	for i, content := range []string{"one\n", "two\n"} {
		putFile(t, filepath.Join(ws, "changed.txt"), content)
		var log bytes.Buffer
		id, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:test"}}, &log)
		if err != nil {
			t.Fatalf("Build %d: %v\n%s", i+1, err, log.String())
		}
		digests = append(digests, id)
		if strings.Contains(log.String(), "ERROR") {
			t.Errorf("build %d's log says ERROR (the first has no cache to import: not an error):\n%s", i+1, log.String())
		}
		if ran := strings.Contains(log.String(), "ran-2"); ran != (i == 0) {
			t.Errorf("build %d ran the RUN step: %v; want only the first to:\n%s", i+1, ran, log.String())
		}
	}
	if digests[0] == digests[1] {
		t.Errorf("both builds made %s; want the changed file in the second", digests[0])
	}
}
