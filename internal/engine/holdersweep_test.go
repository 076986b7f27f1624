package engine

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestSweepHolders: a new engine's sweep removes a holder whose process
// is gone (by its name's mark, or an earlier version's label), a stopped
// one nobody runs, and a parked one past its time, and keeps a running
// holder of a live process, of another boot, or without a mark, and one
// parked for another instance.
func TestSweepHolders(t *testing.T) {
	t.Parallel()
	e, image := holderEngine(t)
	dead := exec.Command("sleep", "30")
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	deadMark := processMark(dead.Process.Pid)
	_ = dead.Process.Kill()
	_ = dead.Wait()
	if deadMark == "" {
		t.Fatal("no mark for a running child")
	}
	id := uniqueID(t)
	named := func(name, mark string, cmd ...string) string {
		t.Helper()
		return startContainer(t, e, client.ContainerCreateOptions{
			Config: &container.Config{Image: image, Cmd: cmd,
				Labels: map[string]string{holderLabel: "1", holderOwnerLabel: mark, testLabel: id, pipeline.LabelInstance: id}},
			Name: name,
		})
	}
	holder := func(mark string, cmd ...string) string { return named("", mark, cmd...) }
	markName := func(mark string) string {
		return holderPrefix + strings.ReplaceAll(mark, ":", ".") + "-" + randomHex(4)
	}
	goneByName := named(markName(deadMark), ownMark(), "sleep", "60")
	mineByName := named(markName(ownMark()), deadMark, "sleep", "60")
	parked := named(parkedName(time.Now()), "", "sleep", "60")
	stale := named(parkedName(time.Now().Add(-parkedGone-time.Minute)), "", "sleep", "60")
	gone := holder(deadMark, "sleep", "60")
	mine := holder(ownMark(), "sleep", "60")
	otherBoot := holder("00000000-0000-0000-0000-000000000000:1:1", "sleep", "60")
	unmarked := holder("", "sleep", "60")
	stopped := holder("", "true")
	if _, err := e.WaitContainer(t.Context(), stopped); err != nil {
		t.Fatal(err)
	}
	// Instance "": nothing is adopted.
	if _, adopted, err := e.tidyHolders(t.Context(), ""); err != nil || adopted != 0 {
		t.Fatalf("tidyHolders: adopted %d, %v", adopted, err)
	}
	e.nets.bg.Wait()
	for name, c := range map[string]struct {
		id   string
		kept bool
	}{
		"a holder whose process is gone":    {gone, false},
		"one whose name names a gone owner": {goneByName, false},
		"one whose name names this process": {mineByName, true},
		"a parked holder":                   {parked, true},
		"a parked holder past its time":     {stale, false},
		"a stopped holder":                  {stopped, false},
		"a holder of this process":          {mine, true},
		"a running holder of another boot":  {otherBoot, true},
		"a running holder without an owner": {unmarked, true},
	} {
		_, err := e.cli.ContainerInspect(context.Background(), c.id, client.ContainerInspectOptions{})
		if kept := err == nil; kept != c.kept {
			t.Errorf("%s: kept = %v, want %v (%v)", name, kept, c.kept, err)
		}
	}
	if got := processMark(os.Getpid()); got != ownMark() {
		t.Errorf("processMark(self) = %q, ownMark = %q", got, ownMark())
	}
}

// holderEngine returns an engine that keeps holders, and its toolbox
// image; it skips the test where there are none (Podman, no /proc).
func holderEngine(t *testing.T) (*Engine, string) {
	t.Helper()
	e := newEngine(t)
	if e.podman {
		t.Skip("Podman gets no holders")
	}
	if ownMark() == "" {
		t.Skip("no /proc here to mark holders with")
	}
	image, err := e.EnsureToolbox(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return e, image
}

// startContainer creates and starts a container, removed when the test
// ends, and returns its ID.
func startContainer(t *testing.T, e *Engine, opts client.ContainerCreateOptions) string {
	t.Helper()
	c, err := e.cli.ContainerCreate(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.remove(c.ID) })
	if _, err := e.cli.ContainerStart(t.Context(), c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return c.ID
}
