package e2e

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestWorkerPostgres: hoist serve --workers 0 queues the index's build and
// runs none; a hoist worker sharing its PostgreSQL database (a data folder
// of its own, the same registry) runs it, the server's API shows its log,
// and the image is delivered to the registry.
func TestWorkerPostgres(t *testing.T) {
	testenv.DockerHost(t)
	db := testenv.Postgres(t)
	reg := testenv.DockerRegistry(t)
	examples := copyExamples(t)
	idx := writeIndex(t, "examples", `  - id: 2
    app-id: examples
    job-id: busybox
    git-url: `+examples+`
    git-branch: main
    git-path: examples/busybox
    target-file: Dockerfile
    desired-tag: latest
    notify-email: dev@example.com
    build-context: ./
    prebuild-script: examples/busybox/prebuild.sh
    prebuild-context: examples/busybox
    depends-on: null
`)
	addr := freeAddr(t)
	srv := startServe(t, "serve", "--index", idx, "--addr", addr, "--data", filepath.Join(t.TempDir(), "server"),
		"--db", db, "--registry", reg, "--workers", "0")
	defer srv.stop(t)
	srv.waitOutput(t, "no workers: hoist worker runs the builds")

	ctx := context.Background()
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const p = "examples/busybox:latest"
	newest := func() pipeline.Build {
		bs, err := st.Builds(ctx, p, 1)
		if err != nil || len(bs) == 0 {
			return pipeline.Build{}
		}
		return bs[0]
	}
	waitFor(t, "the index's build to be queued", func() bool { return newest().Status == pipeline.StatusQueued })
	time.Sleep(2 * time.Second)
	if b := newest(); b.Status != pipeline.StatusQueued {
		t.Fatalf("a server with --workers 0 ran the build: %+v", b)
	}

	w := &served{cmd: exec.Command(hoistBin, "worker", "--db", db, "--registry", reg, "--data", filepath.Join(t.TempDir(), "worker"),
		"--trust-index", "--workers", "1", "--lease", "5s"), out: &syncBuffer{}, done: make(chan struct{})}
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = w.cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		t.Logf("hoist worker\n%s", w.output())
	})
	waitFor(t, "the worker to finish the build", func() bool { return newest().Status.Done() })
	b := newest()
	if b.Status != pipeline.StatusSucceeded || b.Digest == "" {
		t.Fatalf("the worker's build: %+v\n%s", b, w.output())
	}
	if !strings.Contains(w.output(), "hoist worker: running the queued builds of postgres://") {
		t.Errorf("the worker did not say what it runs:\n%s", w.output())
	}
	resp, err := http.Get("http://" + addr + "/api/v1/builds/" + strconv.FormatInt(b.ID, 10) + "/stages/test/log")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "pushed "+reg+"/examples/busybox:test@sha256:") {
		t.Errorf("the server's API: %d, the test log lacks the worker's push:\n%s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodHead, "http://"+reg+"/v2/examples/busybox/manifests/latest", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.Header.Get("Docker-Content-Digest") != b.Digest {
		t.Errorf("the registry's examples/busybox:latest: %v %v, want the build's digest %s", resp, err, b.Digest)
	} else {
		resp.Body.Close()
	}
	images, err := st.Images(ctx)
	if err != nil || len(images) != 1 || images[0].Digest != b.Digest {
		t.Errorf("delivered images: %+v, %v; want %s", images, err, b.Digest)
	}
	w.stop(t)
}
