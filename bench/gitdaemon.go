package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nodeIP is this machine's address on its default route, which the pods
// of the test cluster (a node on this machine) reach.
func nodeIP() (string, error) {
	// A UDP "connection" sends nothing: it only picks the route.
	c, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		return "", fmt.Errorf("finding this machine's address: %w", err)
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.UDPAddr).IP
	if ip.IsLoopback() || ip.IsUnspecified() {
		return "", fmt.Errorf("this machine's address on its default route is %s: pods cannot reach it", ip)
	}
	return ip.String(), nil
}

// serveRepos serves the git repositories under root with git daemon
// (git://) on the node's address, and rewrites the index file idx so that
// every git-url under root is read from it: both executors then check
// out over the network, as from a user's git server, and the Kubernetes
// one does so in a pod (a local path it would check out on the host).
// stop ends the daemon.
func serveRepos(ctx context.Context, root, idx string) (stop func(), err error) {
	ip, err := nodeIP()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.CommandContext(ctx, "git", "daemon", "--reuseaddr", "--export-all", "--base-path="+root,
		"--listen="+ip, "--port="+strconv.Itoa(port), root)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// git runs git-daemon as a child of its own: a group of their own is
	// stopped whole, or the daemon outlives the benchmark.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting git daemon: %w", err)
	}
	stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp4", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			stop()
			return nil, fmt.Errorf("git daemon does not answer on %s: %w", addr, err)
		}
	}
	b, err := os.ReadFile(idx)
	if err != nil {
		stop()
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		key, path, ok := strings.Cut(l, "git-url: ")
		if !ok {
			continue
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		lines[i] = key + "git-url: git://" + addr + "/" + filepath.ToSlash(rel)
	}
	if err := os.WriteFile(idx, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}
