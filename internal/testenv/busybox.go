package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	appletsOnce sync.Once
	applets     []string
	appletsErr  error
)

// BusyboxRootfs writes a root filesystem made of the host's static busybox
// (Debian's busybox-static) and a link per applet into dir/rootfs, so that a
// Dockerfile "FROM scratch" + "COPY rootfs/ /" gives a working image with
// no registry at all.
func BusyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	appletsOnce.Do(func() {
		var out []byte
		out, appletsErr = exec.Command("/bin/busybox", "--list").Output()
		applets = strings.Fields(string(out))
	})
	data, err := os.ReadFile("/bin/busybox")
	if err != nil || appletsErr != nil {
		Missing(t, "no static busybox at /bin/busybox (apt-get install busybox-static)")
	}
	bin := filepath.Join(dir, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if a == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			t.Fatal(err)
		}
	}
}
