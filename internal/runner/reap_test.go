package runner_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/testenv"
)

// leakySource is a seam: a checkout that starts a container and a process
// of its own in the build's name (as git, a script or a test could) and
// fails without cleaning up after them.
type leakySource struct {
	e     *engine.Engine
	image string
	proc  *exec.Cmd
}

func (l *leakySource) Checkout(ctx context.Context, url, branch, dir string, log io.Writer) (string, error) {
	if _, err := l.e.StartContainer(ctx, pipeline.ContainerSpec{Image: l.image, Cmd: []string{"sleep", "1000"}}); err != nil {
		return "", err
	}
	l.proc = exec.Command("sleep", "1000")
	l.proc.Env = pipeline.OwnerOf(ctx).Env()
	l.proc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := l.proc.Start(); err != nil {
		return "", err
	}
	return "", errors.New("the leaky checkout fails here")
}

// TestExecuteReapsWhatTheBuildLeft: whatever a stage leaves in the engine
// or as a process, marked with the build, is gone when the build's end is
// recorded.
func TestExecuteReapsWhatTheBuildLeft(t *testing.T) {
	host := testenv.DockerHost(t)
	e, err := engine.New(t.Context(), engine.Options{Host: host})
	must(t, err)
	defer e.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	instance := "test-" + hex.EncodeToString(b)
	dir := t.TempDir()
	testenv.BusyboxRootfs(t, dir)
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY rootfs/ /\n"), 0o644))
	image := "hoist-" + instance + ":test"
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Dockerfile: "Dockerfile", Tags: []string{image}}, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		_, _ = e.Reap(context.Background(), map[string]string{pipeline.LabelInstance: instance})
		_ = e.RemoveImage(context.Background(), image)
	})

	st := openStore(t)
	src := &leakySource{e: e, image: image}
	r := runner.New(runner.Deps{Source: src, Store: st, Reaper: e, Scripts: &script.Runner{}},
		runner.Options{WorkDir: t.TempDir(), Instance: instance})
	build, err := r.Run(t.Context(), demo, "test", inputs(t, st, demo, 0, nil, false))
	must(t, err)
	if build.Status != pipeline.StatusFailed {
		t.Fatalf("build %+v, want failed by the leaky checkout", build)
	}
	if src.proc == nil {
		t.Fatal("the leaky checkout did not run")
	}
	done := make(chan error, 1)
	go func() { done <- src.proc.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = src.proc.Process.Kill()
		t.Error("the process the build left still runs")
	}
	n, err := e.Reap(t.Context(), map[string]string{pipeline.LabelInstance: instance})
	if err != nil || n.Containers != 0 {
		t.Errorf("the build left %d containers (%v)", n.Containers, err)
	}
}
