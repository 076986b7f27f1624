package engine

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestGiveEngineNeedsAGroupSocket: a trusted script runs as SandboxUID with
// the socket's group, so a socket only its owner may use (Podman's own
// service makes one) is refused with how to fix it, and one its group may
// use is mounted, with DOCKER_HOST set.
func TestGiveEngineNeedsAGroupSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{cli: cli}

	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	var hc container.HostConfig
	if _, err := e.giveEngine(&hc, nil); err == nil || !strings.Contains(err.Error(), "admits only its owner (mode 0600)") || !strings.Contains(err.Error(), "chmod 660") {
		t.Errorf("a 0600 socket: err = %v, want it refused with the fix", err)
	}
	if len(hc.Mounts) != 0 {
		t.Errorf("a refused socket was mounted: %+v", hc.Mounts)
	}

	if err := os.Chmod(sock, 0o660); err != nil {
		t.Fatal(err)
	}
	env, err := e.giveEngine(&hc, nil)
	if err != nil || len(hc.Mounts) != 1 || hc.Mounts[0].Source != sock || !slices.Contains(env, "DOCKER_HOST=unix://"+EngineSocketMount) || len(hc.GroupAdd) != 1 {
		t.Errorf("a 0660 socket: env %v, mounts %+v, groups %v, err %v", env, hc.Mounts, hc.GroupAdd, err)
	}
}
