package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestParkedHolderOutlivesItsProcess: Close parks an idle holder whose
// namespace is as new; the next engine's first container of the same
// instance joins it, and it becomes that process's; a second engine does
// not get the same one.
func TestParkedHolderOutlivesItsProcess(t *testing.T) {
	t.Parallel()
	first, image := holderEngine(t)
	id := uniqueID(t)
	owner := pipeline.Owner{Instance: id}
	ctx := pipeline.WithOwner(t.Context(), owner)
	t.Cleanup(func() { _, _ = first.Reap(context.Background(), owner.Labels()) })
	if h := first.joinHolder(ctx); h != nil {
		t.Fatalf("a new instance got holder %s", short(h.id))
	}
	h, err := first.newHolder(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	first.giveBack(h)
	first.closeHolders()
	ins, err := first.cli.ContainerInspect(ctx, h.id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("the idle holder is gone after Close: %v", err)
	}
	if name := strings.TrimPrefix(ins.Container.Name, "/"); !strings.HasPrefix(name, parkedPrefix) {
		t.Fatalf("the idle holder is named %q after Close; want it parked (%s...)", name, parkedPrefix)
	}

	next := newEngine(t)
	cid, err := next.StartContainer(ctx, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "60"}, Labels: map[string]string{testLabel: id}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := next.cli.ContainerInspect(ctx, cid, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.Container.HostConfig.NetworkMode); got != "container:"+h.id {
		t.Errorf("the next process's first container has network %q; want the parked holder's (container:%s)", got, h.id)
	}
	ins, err = next.cli.ContainerInspect(ctx, h.id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mark := markOf(container.Summary{Names: []string{ins.Container.Name}}); mark != ownMark() {
		t.Errorf("the adopted holder's name %q gives owner %q; want this process's %q", ins.Container.Name, mark, ownMark())
	}
	// Adopted: no other engine takes it again.
	other := newEngine(t)
	if _, n, err := other.tidyHolders(ctx, id); err != nil || n != 0 {
		t.Errorf("another engine adopted %d holders (%v); want none: it is in use", n, err)
	}
}

// TestHolderEndsWhenNotKept: a holder ends, and is removed, a few ticks
// after it started, unless it gets SIGUSR2 (renew) each time before that.
func TestHolderEndsWhenNotKept(t *testing.T) {
	t.Parallel()
	e, image := holderEngine(t)
	id := uniqueID(t)
	start := func() string {
		t.Helper()
		return startContainer(t, e, client.ContainerCreateOptions{
			Config:     &container.Config{Image: image, Cmd: countdown(time.Second, 3), Labels: map[string]string{testLabel: id}},
			HostConfig: &container.HostConfig{AutoRemove: true},
		})
	}
	gone := func(id string) bool {
		_, err := e.cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
		return err != nil
	}
	left, kept := start(), start()
	for end := time.Now().Add(time.Minute); !gone(left) && time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if err := e.renew(kept); err != nil {
			t.Fatal(err)
		}
	}
	if !gone(left) {
		t.Fatal("a holder nobody renews still runs after a minute; want it ended and removed after about 3 s")
	}
	// Renewed as often, the other one would have ended by now too.
	for range 4 {
		if err := e.renew(kept); err != nil {
			t.Fatalf("renewing a holder that was kept: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if gone(kept) {
		t.Error("a renewed holder ended")
	}
}
