package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// procRoot is where the engine's host has its processes: the engine's
// containers are seen there when Hoist runs on that host, in its PID
// namespace.
var procRoot = "/proc"

// probeProc answers ProbePorts without a helper container when it can:
// the container's first process, read in the host's /proc (its network
// namespace's sockets, /proc/PID/net/tcp and tcp6), is checked to be the
// container's (its cgroup names the container), and a port is open when a
// socket listens on it at the address the probe container would dial: the
// container's IPv4 address on its network, or any. A listening socket
// accepts a connection before its program takes it, so a dial would have
// succeeded. ok is false when the host's /proc cannot say (a remote
// engine, Hoist in another PID namespace, a container without an IPv4
// address): the caller probes from a container instead.
func (e *Engine) probeProc(ctx context.Context, id string, ports []int) (open []int, ok bool, err error) {
	ins, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("probing container %s: %w", short(id), err)
	}
	c := ins.Container
	if c.State == nil || !c.State.Running || c.State.Pid <= 0 {
		return nil, true, fmt.Errorf("probing container %s: it is not running", short(id))
	}
	addr := ipv4Of(c.NetworkSettings)
	if h := e.holderOf(c.ID); h != nil && !addr.IsValid() {
		addr = h.addr // it is in a holder's namespace (netns.go)
	}
	if !addr.IsValid() {
		return nil, false, nil
	}
	dir := fmt.Sprintf("%s/%d", procRoot, c.State.Pid)
	cg, err := os.ReadFile(dir + "/cgroup")
	if err != nil || !bytes.Contains(cg, []byte(c.ID)) {
		return nil, false, nil
	}
	listening := map[int]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(dir + "/net/" + f)
		if err != nil {
			return nil, false, nil
		}
		for port, addrs := range listeners(b) {
			for _, a := range addrs {
				if a.IsUnspecified() || a.Unmap() == addr {
					listening[port] = true
				}
			}
		}
	}
	// The cgroup is read again: a process that ended meanwhile may have
	// left its number to another.
	if again, err := os.ReadFile(dir + "/cgroup"); err != nil || !bytes.Equal(again, cg) {
		return nil, false, nil
	}
	for _, p := range ports {
		if listening[p] {
			open = append(open, p)
		}
	}
	return open, true, nil
}

// listeners reads a /proc/net/tcp or tcp6 table: the local addresses of
// the sockets in state LISTEN (0A), by port.
func listeners(table []byte) map[int][]netip.Addr {
	out := map[int][]netip.Addr{}
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		host, port, found := strings.Cut(f[1], ":")
		p, perr := strconv.ParseUint(port, 16, 16)
		a, aok := procAddr(host)
		if !found || perr != nil || !aok {
			continue
		}
		out[int(p)] = append(out[int(p)], a)
	}
	return out
}

// procAddr decodes /proc/net's address: 8 or 32 hex digits, each 32-bit
// word in the host's (little-endian) order.
func procAddr(s string) (netip.Addr, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 && len(b) != 16 {
		return netip.Addr{}, false
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	a, _ := netip.AddrFromSlice(b)
	return a, true
}

// ipv4Of returns a container's IPv4 address on the first of its networks
// that gave it one, or the zero Addr.
func ipv4Of(ns *container.NetworkSettings) netip.Addr {
	if ns == nil {
		return netip.Addr{}
	}
	for _, nw := range ns.Networks {
		if nw != nil && nw.IPAddress.Is4() {
			return nw.IPAddress
		}
	}
	return netip.Addr{}
}
