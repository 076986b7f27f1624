package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hoistci/hoist/internal/registry"
)

// env is what the benchmarks share: the module root, a temporary folder, the
// registry client, and everything to clean up at the end.
type env struct {
	root    string // the module root
	tmp     string // removed at the end
	verbose bool
	client  *registry.Client

	mu    sync.Mutex
	regs  []*registryProc
	hosts []string // every registry started: images under them are ours
	// aliases are local names hoist run gave parents it pulled for a
	// FROM (bench/base:latest): removed at the end.
	aliases []string
}

// alias records a local image name to remove at the end.
func (e *env) alias(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.aliases = append(e.aliases, name)
}

// registryProc is one docker-registry process this program started.
type registryProc struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer
}

const dockerRegistryBin = "/usr/bin/docker-registry"

// startRegistry starts Debian's docker-registry on a free 127.0.0.1 port,
// with its config and storage in a new folder under e.tmp.
func (e *env) startRegistry(ctx context.Context, label string) (*registryProc, error) {
	var lastErr error
	for range 3 { // the free port may be taken between probing and binding
		r, err := e.tryRegistry(ctx, label)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("starting %s: %w", dockerRegistryBin, lastErr)
}

func (e *env) tryRegistry(ctx context.Context, label string) (*registryProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp(e.tmp, "registry-"+label+"-")
	if err != nil {
		return nil, err
	}
	conf := "version: 0.1\n" +
		"log:\n  level: error\n  accesslog:\n    disabled: true\n" +
		"storage:\n  filesystem:\n    rootdirectory: " + strconv.Quote(filepath.Join(dir, "storage")) + "\n" +
		"  delete:\n    enabled: true\n" +
		"http:\n  addr: " + strconv.Quote(addr) + "\n  secret: hoist-bench-secret\n"
	confPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	r := &registryProc{addr: addr, dir: dir, done: make(chan struct{}), out: &bytes.Buffer{}}
	r.cmd = exec.Command(dockerRegistryBin, "serve", confPath)
	r.cmd.Env = []string{"PATH=/usr/bin:/bin"} // no REGISTRY_* settings from our environment
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	// If this program dies without cleaning up, the registry dies with it.
	// The parent-death signal follows the thread that started it, not the
	// process: that thread is kept for as long as the registry runs, or
	// the end of a goroutine that locked and left it (testenv's PostgreSQL
	// of (h) does) killed the registry in the middle of the run.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := r.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		r.cmd.Wait()
		close(r.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.regs = append(e.regs, r)
	e.hosts = append(e.hosts, addr)
	e.mu.Unlock()
	if err := waitV2(ctx, addr, r.done); err != nil {
		e.stopRegistry(r)
		return nil, fmt.Errorf("%w; its output:\n%s", err, r.out.String())
	}
	return r, nil
}

// waitV2 polls http://addr/v2/ until it answers 200.
func waitV2(ctx context.Context, addr string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := hc.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("docker-registry on %s exited", addr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("docker-registry on %s did not answer /v2/ within 15s", addr)
}

// stopRegistry kills the process we started, by its PID, and removes its
// storage. Its host stays in e.hosts so that images named after it are
// still cleaned up.
func (e *env) stopRegistry(r *registryProc) {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	_ = os.RemoveAll(r.dir)
}

// cleanup removes the containers and images named after our registries,
// stops our registries and removes the temporary folder. It runs at the end,
// also after an error or an interrupt.
func (e *env) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e.mu.Lock()
	hosts := append([]string(nil), e.hosts...)
	regs := append([]*registryProc(nil), e.regs...)
	aliases := append([]string(nil), e.aliases...)
	e.mu.Unlock()
	for _, a := range aliases {
		_, _ = e.output(ctx, "docker", "rmi", a) // untagged only: never another image's name
	}
	if len(hosts) > 0 {
		if n, err := e.removeOurs(ctx, hosts); err != nil {
			fmt.Fprintf(os.Stderr, "bench: cleanup: %v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "cleanup: removed %d images and tags named after the benchmark's registries\n", n)
		}
	}
	for _, r := range regs {
		e.stopRegistry(r)
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}

// ours reports whether an image or repository name is under one of hosts.
func ours(name string, hosts []string) bool {
	for _, h := range hosts {
		if strings.HasPrefix(name, h+"/") {
			return true
		}
	}
	return false
}

// removeOurs force-removes containers of our images, then our tags, then the
// image IDs that only our names (tags or pulled digests) pointed at.
func (e *env) removeOurs(ctx context.Context, hosts []string) (int, error) {
	out, err := e.output(ctx, "docker", "ps", "-a", "--no-trunc", "--format", "{{.ID}}\t{{.Image}}")
	if err != nil {
		return 0, err
	}
	for _, line := range lines(out) {
		id, img, _ := strings.Cut(line, "\t")
		if ours(img, hosts) {
			_, _ = e.output(ctx, "docker", "rm", "-f", id)
		}
	}
	out, err = e.output(ctx, "docker", "images", "--no-trunc", "--format", "{{.ID}}\t{{.Repository}}\t{{.Tag}}")
	if err != nil {
		return 0, err
	}
	var ids []string
	seen := map[string]bool{}
	n := 0
	for _, line := range lines(out) {
		f := strings.Split(line, "\t")
		if len(f) != 3 || !ours(f[1], hosts) {
			continue
		}
		if f[2] != "<none>" {
			if _, err := e.output(ctx, "docker", "rmi", f[1]+":"+f[2]); err == nil {
				n++
			}
		}
		if !seen[f[0]] {
			seen[f[0]] = true
			ids = append(ids, f[0])
		}
	}
	for _, id := range ids {
		tags, err := e.output(ctx, "docker", "image", "inspect", "-f", "{{range .RepoTags}}{{println .}}{{end}}", id)
		if err != nil {
			continue // already gone with its last tag
		}
		if !allOurs(lines(tags), hosts) {
			continue // someone else's name points at it too
		}
		if _, err := e.output(ctx, "docker", "rmi", "-f", id); err == nil {
			n++
		}
	}
	return n, nil
}

func allOurs(names []string, hosts []string) bool {
	for _, n := range names {
		if !ours(n, hosts) {
			return false
		}
	}
	return true
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// output runs a command and returns its standard output; the error carries
// the end of its standard error.
func (e *env) output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(stderr.String(), 5))
	}
	return string(out), nil
}

// timed runs a command, with its output kept (and shown with -v), and
// returns how long it took. The error carries the end of its output.
func (e *env) timed(ctx context.Context, cmd *exec.Cmd) (time.Duration, error) {
	s, _, err := e.measure(ctx, cmd)
	return s.d, err
}

// measure runs a command, with its output kept (and shown with -v), and
// returns how long it took, its peak RSS and its output. The error
// carries the end of its output.
func (e *env) measure(ctx context.Context, cmd *exec.Cmd) (sample, string, error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	if e.verbose {
		w = io.MultiWriter(&buf, os.Stderr)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	s := sample{d: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.rssKiB = ru.Maxrss // KiB on Linux; includes the children it waited for
		}
		s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		if ctx.Err() != nil {
			return s, buf.String(), ctx.Err()
		}
		return s, buf.String(), fmt.Errorf("%s failed: %w; the end of its output:\n%s", strings.Join(cmd.Args, " "), err, tail(buf.String(), 25))
	}
	return s, buf.String(), nil
}

// sample is one measured run of a command.
type sample struct {
	d      time.Duration
	rssKiB int64         // peak RSS of the process and the children it waited for
	cpu    time.Duration // CPU time (user and system) of the process and the children it waited for
}

// run is timed for a command given by name and arguments.
func (e *env) run(ctx context.Context, name string, args ...string) (time.Duration, error) {
	return e.timed(ctx, exec.CommandContext(ctx, name, args...))
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// preflight says clearly what is missing.
func preflight(ctx context.Context, e *env, needGo bool) error {
	const fix = "run scripts/deps.sh test (as root) to install and start it"
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("the docker CLI is not on PATH: %s", fix)
	}
	if _, err := os.Stat(dockerRegistryBin); err != nil {
		return fmt.Errorf("no %s (Debian's docker-registry): %s", dockerRegistryBin, fix)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return fmt.Errorf("git is not on PATH: %s", fix)
	}
	if needGo {
		if _, err := exec.LookPath("go"); err != nil {
			return errors.New("go is not on PATH: the example's prebuild compiles a Go binary")
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if v, err := e.output(cctx, "docker", "version", "--format", "{{.Server.Version}}"); err != nil || strings.TrimSpace(v) == "" {
		return fmt.Errorf("no Docker engine answers the docker CLI (%v): %s", err, fix)
	}
	return nil
}
