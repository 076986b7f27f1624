package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// buildBusybox builds a plain busybox image labelled id and returns its tag.
func buildBusybox(t *testing.T, e *Engine, id string) string {
	t.Helper()
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id)})
	tag := id + ":test"
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{tag}}, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	return tag
}

func TestRun(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildBusybox(t, e, id)
	tests := []struct {
		name    string
		cmd     []string
		stayUp  time.Duration
		want    pipeline.RunResult
		wantLog []string
	}{
		{"exits 0", []string{"sh", "-c", "echo to-stdout; echo to-stderr >&2"}, 0,
			pipeline.RunResult{Exited: true}, []string{"to-stdout\n", "to-stderr\n"}},
		{"exits 3", []string{"sh", "-c", "exit 3"}, 0, pipeline.RunResult{Exited: true, ExitCode: 3}, nil},
		{"exits before stay-up", []string{"true"}, 10 * time.Second, pipeline.RunResult{Exited: true}, nil},
		{"stays up", []string{"sh", "-c", "echo up; sleep 30"}, time.Second,
			pipeline.RunResult{Exited: false}, []string{"up\n"}},
		// Once it has stayed up, it is killed: no SIGTERM and grace period
		// first, which a server that traps or ignores it would use in full.
		{"stays up, killed without a SIGTERM", []string{"sh", "-c", "trap 'echo got-TERM' TERM; echo up; while :; do sleep 0.1; done"}, time.Second,
			pipeline.RunResult{Exited: false}, []string{"up\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			start := time.Now()
			got, err := e.Run(t.Context(), pipeline.RunSpec{Image: image, Cmd: tt.cmd, StayUp: tt.stayUp}, &log)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got != tt.want {
				t.Errorf("Run = %+v, want %+v", got, tt.want)
			}
			for _, s := range tt.wantLog {
				if !strings.Contains(log.String(), s) {
					t.Errorf("log %q lacks %q", log.String(), s)
				}
			}
			if strings.Contains(log.String(), "got-TERM") {
				t.Errorf("log %q: the container got a SIGTERM; want it killed at once", log.String())
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Run took %v", d)
			}
			if n := countLabelled(t, e, id); n != 0 {
				t.Errorf("%d containers left after Run", n)
			}
		})
	}
}

// TestRunOffline: an Offline container runs with its loopback only.
func TestRunOffline(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildBusybox(t, e, id)
	for offline, want := range map[bool]string{true: "lo\n", false: "eth0\nlo\n"} {
		var log bytes.Buffer
		res, err := e.Run(t.Context(), pipeline.RunSpec{Image: image, Cmd: []string{"ls", "/sys/class/net"}, Offline: offline}, &log)
		if err != nil || res != (pipeline.RunResult{Exited: true}) {
			t.Fatalf("Run (Offline %v) = %+v, %v\n%s", offline, res, err, log.String())
		}
		if got := strings.Join(strings.Fields(log.String()), "\n") + "\n"; got != want {
			t.Errorf("Offline %v: the network devices are %q, want %q", offline, got, want)
		}
	}
}

func TestRunStartFailure(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildBusybox(t, e, id)
	_, err := e.Run(t.Context(), pipeline.RunSpec{Image: image, Cmd: []string{"/no/such/program"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "starting container") || !strings.Contains(err.Error(), "/no/such/program") {
		t.Errorf("Run error = %v, want a start failure naming the program", err)
	}
	if n := countLabelled(t, e, id); n != 0 {
		t.Errorf("%d containers left after Run", n)
	}
}

func TestRunCancelledStillRemoves(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildBusybox(t, e, id)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	_, err := e.Run(ctx, pipeline.RunSpec{Image: image, Cmd: []string{"sleep", "30"}}, nil)
	if err == nil {
		t.Fatal("Run with a cancelled context returned no error")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("cancelled Run took %v", d)
	}
	if n := countLabelled(t, e, id); n != 0 {
		t.Errorf("%d containers left after a cancelled Run", n)
	}
}

func TestRemoveContainersOf(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildBusybox(t, e, id)
	var kept string // one named in except: it stays
	for i, start := range []bool{true, false, true} {
		c, err := e.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
			Config:     &container.Config{Image: image, Cmd: []string{"sleep", "30"}},
			HostConfig: &container.HostConfig{Resources: container.Resources{Ulimits: ulimits()}},
		})
		if err != nil {
			t.Fatalf("creating container %d: %v", i, err)
		}
		if start {
			if _, err := e.cli.ContainerStart(t.Context(), c.ID, client.ContainerStartOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		kept = c.ID
	}
	t.Cleanup(func() { e.remove(kept) })
	// A container of an image built on top of this one belongs to another
	// build: it stays.
	childDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(childDir, "Dockerfile"), []byte("FROM "+image+"\nLABEL child=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: childDir, Tags: []string{id + "-child:test"}}, &log); err != nil {
		t.Fatalf("building the child: %v\n%s", err, log.String())
	}
	child, err := e.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Config: &container.Config{Image: id + "-child:test", Cmd: []string{"true"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.cli.ContainerRemove(context.Background(), child.ID, client.ContainerRemoveOptions{Force: true})
		e.cli.ImageRemove(context.Background(), id+"-child:test", client.ImageRemoveOptions{Force: true})
	})
	n, err := e.RemoveContainersOf(t.Context(), image, kept)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("RemoveContainersOf = %d, want 2", n)
	}
	if n := countLabelled(t, e, id); n != 2 {
		t.Errorf("%d containers left, want the child image's one and the one in except", n)
	}
	if _, err := e.cli.ContainerInspect(t.Context(), kept, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("the container named in except was removed: %v", err)
	}
	if _, err := e.cli.ContainerInspect(t.Context(), child.ID, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("the child image's container was removed: %v", err)
	}
	if n, err := e.RemoveContainersOf(t.Context(), "no-such-image-"+id+":x"); n != 0 || err != nil {
		t.Errorf("RemoveContainersOf a missing image = %d, %v", n, err)
	}
}
