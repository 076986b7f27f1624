package kube

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// greeter listens on addr (port 0: any) and says token to every
// connection; it counts the connections.
func greeter(t *testing.T, addr, token string) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			fmt.Fprintln(c, token)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// hostAddr is an IPv4 address of the node (the test runs on it) that is
// not a loopback one.
func hostAddr(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String()
			}
		}
	}
	t.Fatal("the node has no IPv4 address but loopback ones")
	return ""
}

// TestBuildRunStepsDoNotReachTheNodesLoopback: buildkitd shares the node's
// network (it pushes to a registry on the node's loopback), but RUN steps,
// the project's code, get a network namespace of their own, as on
// Docker's bridge: what listens on the node's 127.0.0.1 (the API server,
// the kubelet, the embedded registry) is out of their reach, and they
// still reach out (here the node's own non-loopback address).
func TestBuildRunStepsDoNotReachTheNodesLoopback(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	inner, innerN := greeter(t, "127.0.0.1:0", "loopback-reached")
	outer, outerN := greeter(t, hostAddr(t)+":0", "outside-reached")
	step := func(addr string) string {
		host, port, _ := net.SplitHostPort(addr)
		return fmt.Sprintf("(nc -w 5 %s %s </dev/null || echo %s unreachable)", host, port, addr)
	}
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\nRUN "+step(inner)+" && "+step(outer)+"\n")
	var log bytes.Buffer
	if _, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:net"}}, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	if n := innerN.Load(); n != 0 || strings.Contains(log.String(), "loopback-reached") {
		t.Errorf("the RUN step reached %s on the node's loopback (%d connections):\n%s", inner, n, log.String())
	}
	if n := outerN.Load(); n == 0 || !strings.Contains(log.String(), "outside-reached") {
		t.Errorf("the RUN step did not reach %s outside the node's loopback:\n%s", outer, log.String())
	}
	// Nor can a Dockerfile ask for the node's network: buildkitd does not
	// grant network.host.
	putFile(t, ws+"/Dockerfile", "FROM scratch\nCOPY rootfs/ /\nRUN --network=host "+step(inner)+"\n")
	log.Reset()
	before := innerN.Load()
	if _, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:net"}}, &log); err == nil || !strings.Contains(err.Error(), "network.host") {
		t.Errorf("Build of RUN --network=host: %v; want it refused for want of the network.host entitlement\n%s", err, log.String())
	}
	if innerN.Load() != before {
		t.Errorf("RUN --network=host reached %s on the node's loopback", inner)
	}
	assertNoPodLeft(t, x)
}
