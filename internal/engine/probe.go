package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// probeScript runs in the toolbox, in the network namespace of the
// container probed: it names the address it dials (the first global IPv4
// address, as a neighbour on the container's network reaches it, else
// localhost) and each port of its arguments that accepts a connection.
// busybox's nc has no -z; with -e it runs true once connected and exits 0.
const probeScript = `a=$(ip -4 -o addr show scope global 2>/dev/null | sed -n '1s/.*inet \([0-9.]*\).*/\1/p')
[ -n "$a" ] || a=127.0.0.1
echo "addr $a"
for p in "$@"; do
	if nc -w 1 "$a" "$p" -e /bin/true 2>/dev/null; then echo "open $p"; fi
done
`

// ProbePorts returns which of ports accept a connection on the container's
// own address. The host never dials the container: when the engine runs
// on Hoist's host, its sockets are read there (probeProc); otherwise each
// port is tried once from a short-lived toolbox container that shares the
// network namespace of the container id, confined as the sandbox is (no
// capabilities, no-new-privileges, read-only, non-root).
func (e *Engine) ProbePorts(ctx context.Context, id string, ports []int) ([]int, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	if open, ok, err := e.probeProc(ctx, id, ports); ok || err != nil {
		return open, err
	}
	return e.probeFromContainer(ctx, id, ports)
}

// probeFromContainer tries each port once from a toolbox container in the
// network namespace of the container id.
func (e *Engine) probeFromContainer(ctx context.Context, id string, ports []int) ([]int, error) {
	image, err := e.EnsureToolbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("probing container %s: %w", short(id), err)
	}
	cmd := []string{"/bin/sh", "-c", probeScript, "probe"}
	for _, p := range ports {
		cmd = append(cmd, strconv.Itoa(p))
	}
	hc := e.confined(ctx)
	hc.NetworkMode = container.NetworkMode("container:" + id)
	hc.CapDrop = []string{"ALL"}
	hc.SecurityOpt = []string{"no-new-privileges"}
	hc.ReadonlyRootfs = true
	pid, err := e.createContainer(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:  image,
			Cmd:    cmd,
			Env:    []string{"PATH=/bin"},
			User:   fmt.Sprintf("%d:%d", SandboxUID, SandboxUID),
			Labels: pipeline.WithLabels(ctx, map[string]string{"io.hoist.probe": short(id)}),
		},
		HostConfig: &hc,
	})
	if err != nil {
		return nil, fmt.Errorf("probing container %s: %w", short(id), err)
	}
	defer e.remove(pid)
	var out bytes.Buffer
	finish, err := e.attach(ctx, pid, &out)
	if err != nil {
		return nil, fmt.Errorf("probing container %s: %w", short(id), err)
	}
	if _, err := e.cli.ContainerStart(ctx, pid, client.ContainerStartOptions{}); err != nil {
		finish(false)
		return nil, fmt.Errorf("probing container %s: %w", short(id), err)
	}
	res, err := e.await(ctx, pid, 0)
	finish(err == nil)
	if err != nil {
		return nil, fmt.Errorf("probing container %s: %w", short(id), err)
	}
	open, addr := parseProbe(out.Bytes())
	if res.ExitCode != 0 || addr == "" {
		return nil, fmt.Errorf("probing container %s: the probe exited with status %d: %s", short(id), res.ExitCode, strings.TrimSpace(out.String()))
	}
	return open, nil
}

// parseProbe reads probeScript's output: the ports it found open, and the
// address it dialled ("" when it never said).
func parseProbe(b []byte) (open []int, addr string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "addr":
			addr = v
		case "open":
			if p, err := strconv.Atoi(v); err == nil {
				open = append(open, p)
			}
		}
	}
	return open, addr
}
