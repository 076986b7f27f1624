package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// A holder outlives the process that made it when that process dies
// without Close (killed, or out of memory), and every holder stops when
// the engine does (dockerd keeps them, exited). It ends itself within
// minutes once nobody renews it (holderpark.go), but sooner is better: so
// each holder carries its owner's mark in its name (ownedName: the host's
// boot, the process's ID and start time, which no other process shares;
// holders of earlier versions have it in holderOwnerLabel), and an engine
// removes the holders that are not running and the ones whose owner ran
// on this host's boot and is gone. It leaves a running holder of a live
// process alone, one made on another host or boot, or without a mark,
// which it cannot judge, and a parked one (holderpark.go) until it is
// past its time. The sweep runs before an instance's first container on
// the default network: a process that starts none (a sweep whose projects
// are all unchanged) asks the engine nothing.

// holderOwnerLabel is the label with the owner's mark of a holder made by
// an earlier version.
const holderOwnerLabel = "io.hoist.netns.owner"

// ownMark is this process's mark, "" where /proc does not tell it.
var ownMark = sync.OnceValue(func() string {
	return processMark(os.Getpid())
})

// processMark returns the mark of process pid: "BOOT:PID:START", "" when
// it does not run (or /proc does not tell).
func processMark(pid int) string {
	boot, err := os.ReadFile(procRoot + "/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	stat, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", procRoot, pid))
	if err != nil {
		return ""
	}
	// The fields after the command (which may hold spaces and
	// parentheses) from the last ")": state is field 3, starttime 22.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return fmt.Sprintf("%s:%d:%s", strings.TrimSpace(string(boot)), pid, f[19])
}

// owner reports whether mark names a process of this host's boot
// (thisBoot), and whether that process still runs.
func owner(mark string) (thisBoot, alive bool) {
	boot, rest, ok := strings.Cut(mark, ":")
	if !ok {
		return false, false
	}
	pidStr, _, ok := strings.Cut(rest, ":")
	pid, err := strconv.Atoi(pidStr)
	own := ownMark()
	if !ok || err != nil || pid <= 0 || own == "" || !strings.HasPrefix(own, boot+":") {
		return false, false
	}
	return true, processMark(pid) == mark
}

// tidyHolders removes the holders whose process is gone (see above), and
// the parked ones that are stopped or past their time (holderpark.go), in
// the background; it adopts the ones parked for instance and returns once
// they are idle here. It returns how many it removes and adopts.
func (e *Engine) tidyHolders(ctx context.Context, instance string) (removed, adopted int, err error) {
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", holderLabel+"=1"),
	})
	if err != nil {
		e.log.Debug("listing network namespace holders", "err", err)
		return 0, 0, fmt.Errorf("listing network namespace holders: %w", err)
	}
	var wg sync.WaitGroup
	var took atomic.Int32
	for _, c := range list.Items {
		name := nameOf(c)
		stopped := c.State == "exited" || c.State == "dead"
		if at, ok := parkedAt(name); ok {
			age := time.Since(at)
			switch {
			case stopped || age > parkedGone:
			case instance != "" && c.Labels[pipeline.LabelInstance] == instance && age < adoptWithin:
				wg.Go(func() {
					if h, err := e.adopt(ctx, name, c.ID, instance); err != nil {
						e.log.Debug("not adopting a parked network namespace holder", "name", name, "err", err)
					} else {
						took.Add(1)
						e.giveBack(h)
					}
				})
				continue
			default:
				continue // another instance's, or one that may end meanwhile
			}
		} else if thisBoot, alive := owner(markOf(c)); alive || (!thisBoot && !stopped) {
			continue
		}
		removed++
		e.nets.bg.Go(func() { e.remove(c.ID) })
	}
	wg.Wait()
	if removed > 0 || took.Load() > 0 {
		e.log.Debug("tidied network namespace holders", "removed", removed, "adopted", took.Load())
	}
	return removed, int(took.Load()), nil
}

// nameOf returns c's name, without its leading "/".
func nameOf(c container.Summary) string {
	if len(c.Names) == 0 {
		return ""
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// markOf returns the mark of c's owner: from its name (ownedName), else
// from holderOwnerLabel (the holders of earlier versions).
func markOf(c container.Summary) string {
	if rest, ok := strings.CutPrefix(nameOf(c), holderPrefix); ok {
		if i := strings.LastIndexByte(rest, '-'); i > 0 {
			return strings.ReplaceAll(rest[:i], ".", ":")
		}
	}
	return c.Labels[holderOwnerLabel]
}
