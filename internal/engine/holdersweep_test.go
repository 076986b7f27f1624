package engine

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestSweepHolders: a new engine's sweep removes a holder whose process
// is gone and a stopped one nobody runs, and keeps a running holder of a
// live process, of another boot, or without a mark.
func TestSweepHolders(t *testing.T) {
	t.Parallel()
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
	holder := func(mark string, cmd ...string) string {
		t.Helper()
		c, err := e.cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
			Config: &container.Config{Image: image, Cmd: cmd,
				Labels: map[string]string{holderLabel: "1", holderOwnerLabel: mark, testLabel: id}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.remove(c.ID) })
		if _, err := e.cli.ContainerStart(t.Context(), c.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	gone := holder(deadMark, "sleep", "60")
	mine := holder(ownMark(), "sleep", "60")
	otherBoot := holder("00000000-0000-0000-0000-000000000000:1:1", "sleep", "60")
	unmarked := holder("", "sleep", "60")
	stopped := holder("", "true")
	if _, err := e.WaitContainer(t.Context(), stopped); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sweepHolders(t.Context()); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		id   string
		kept bool
	}{
		"a holder whose process is gone":    {gone, false},
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
