package script

import (
	"bytes"
	"os"
	"strconv"
	"syscall"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Reap kills (SIGKILL) every process of this machine that carries the
// marks of instance in its environment (pipeline.EnvInstance), whatever
// its process group or session: what the scripts of an instance that
// stopped without cleaning up (kill -9, a crash) left running. It returns
// how many it killed. It reads /proc, so it finds nothing where there is
// none.
func Reap(instance string) (int, error) {
	if instance == "" {
		return 0, nil
	}
	return killMarked(pipeline.Owner{Instance: instance})
}

var _ pipeline.ProcessReaper = (*Runner)(nil)

// KillOwned kills every process marked with o: what o's scripts, and the
// other commands Hoist marks (git, a CVE scanner), left running.
func (r *Runner) KillOwned(o pipeline.Owner) (int, error) { return killMarked(o) }

// killMarked kills the processes whose environment carries o's marks: o's
// instance, and o's build when o has one.
func killMarked(o pipeline.Owner) (int, error) {
	want := [][]byte{}
	for _, kv := range o.Env() {
		want = append(want, []byte(kv))
	}
	if len(want) == 0 {
		return 0, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil // no /proc: nothing to find
	}
	self := os.Getpid()
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid <= 1 {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !hasAll(env, want) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n, nil
}

// hasAll reports whether the NUL-separated environment env holds every one
// of the KEY=value entries in want.
func hasAll(env []byte, want [][]byte) bool {
	for _, w := range want {
		found := false
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
