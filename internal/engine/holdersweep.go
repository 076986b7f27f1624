package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/client"
)

// A holder outlives the process that made it when that process dies
// without Close (killed, or out of memory), and every holder stops when
// the engine does (dockerd keeps them, exited). The data folder's next
// start reaps its last instance's, but a folder that is never used again
// (a test's, or one a user removed) would keep them for good. So each
// holder carries its owner's mark (holderOwnerLabel: the host's boot, the
// process's ID and start time, which no other process shares), and an
// engine removes the holders that are not running and the ones whose
// owner ran on this host's boot and is gone. It leaves
// a running holder of a live process alone, and one made on another host
// or boot, or without a mark, which it cannot judge. The sweep runs
// before an engine makes its first holder: a process that makes none (a
// sweep whose projects are all unchanged) asks the engine nothing.

// holderOwnerLabel is the label with a holder's owner's mark.
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

// sweepHolders removes the holders whose process is gone (see above) and
// returns how many it removed: a holder of a process of this boot that no
// longer runs, and a stopped one (exited or dead) whose process does not
// run here (gone, of another boot, or unmarked).
func (e *Engine) sweepHolders(ctx context.Context) (int, error) {
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", holderLabel+"=1"),
	})
	if err != nil {
		return 0, fmt.Errorf("listing network namespace holders: %w", err)
	}
	n := 0
	for _, c := range list.Items {
		thisBoot, alive := owner(c.Labels[holderOwnerLabel])
		stopped := c.State == "exited" || c.State == "dead"
		if alive || (!thisBoot && !stopped) {
			continue
		}
		if _, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err == nil {
			n++
		}
	}
	return n, nil
}
