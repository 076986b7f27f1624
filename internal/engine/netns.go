package engine

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// A container on the engine's default network costs dockerd a network
// sandbox: a new namespace, a veth pair, and two starts of dockerd's own
// 100 MB binary (the libnetwork-setkey prestart hook, and set-ipv6), about
// half of the CPU time of a container's start. Hoist starts one such
// container per build (the image under test, which "starts", "ports" and a
// test-script share), so it keeps network namespaces instead: a holder is
// a toolbox container that only sleeps on the default network, and a
// container started on the default network joins an idle holder's
// namespace (network mode container:HOLDER) rather than get its own. It
// sees the network a namespace of its own gives: an address on the
// default bridge, the holder's hostname in /etc/hosts, its DNS.
//
// A holder is used by one container at a time, and joined again only when
// its namespace is as new: nothing but the holder's own process in it
// (every /proc/PID/ns/net is read) and no socket left. A closed TCP
// connection would leave a socket in TIME_WAIT there for a minute (one
// the server closed first keeps the next server from binding its port):
// the holder's namespace keeps none (net.ipv4.tcp_max_tw_buckets=0, so a
// closed connection is gone at once, as after a TIME_WAIT), and every
// build's test-script that fetches a page would otherwise leave its
// holder idle for a minute. Where the kernel does not take that setting,
// a socket in TIME_WAIT keeps the holder idle until it is gone; anything
// else left removes it. When no
// holder is ready the container gets a namespace of its own, as it would
// without holders, and from the second such container of an instance on,
// a holder is made in the background for the ones after it, unless one
// waits out a socket: a single build makes none. Idle holders are removed
// after holderIdle; at Close, the ones as new are parked for the next
// process of the instance, which adopts them (holderpark.go), and the
// others removed; when a process dies without Close, its holders go by
// the reap of its instance at the data folder's next start (they carry
// the instance's label, never a build's) or by the next engine on this
// host (holdersweep.go), whichever comes first. Podman, and an engine whose
// processes the host's /proc does not show (a remote one), get no
// holders: what is left in a namespace could not be seen.

// holderIdle is how long an idle holder is kept: a socket in TIME_WAIT
// lasts a minute.
const holderIdle = 2 * time.Minute

// holdersIdle is how many idle holders an instance keeps at most.
const holdersIdle = 8

// holderLabel marks a holder.
const holderLabel = "io.hoist.netns"

// holder is one network namespace holder.
type holder struct {
	id       string
	instance string
	pid      int
	netns    string     // its /proc/PID/ns/net link: "net:[inode]"
	addr     netip.Addr // its IPv4 address on the default network
	idle     *time.Timer
}

// netPool is an engine's holders.
type netPool struct {
	mu      sync.Mutex
	idle    map[string][]*holder  // by instance, the newest last
	claimed map[string]*holder    // by the ID of the container that joined it
	started map[string]int        // containers started on the default network, by instance
	making  map[string]bool       // a holder is being made, by instance
	bg      sync.WaitGroup        // the holders being made, and removed by a sweep
	tidied  map[string]*sync.Once // by instance: holders swept and adopted (holderpark.go)
	off     bool                  // the host's /proc does not show the engine's containers
	closed  bool
	kept    chan struct{} // closed at Close: keepHolders ends
}

// joinHolder returns a ready holder for a container about to be created
// on the default network with ctx; nil when there is none (or this engine
// keeps none: Podman, no owner instance in ctx, holders off), and the
// container gets a namespace of its own.
func (e *Engine) joinHolder(ctx context.Context) *holder {
	inst := pipeline.OwnerOf(ctx).Instance
	p := e.nets
	if p == nil || e.podman || inst == "" {
		return nil
	}
	p.mu.Lock()
	if p.off || p.closed {
		p.mu.Unlock()
		return nil
	}
	if p.started == nil {
		p.started, p.making, p.idle = map[string]int{}, map[string]bool{}, map[string][]*holder{}
		p.tidied = map[string]*sync.Once{}
	}
	tidy := p.tidied[inst]
	if tidy == nil {
		tidy = new(sync.Once)
		p.tidied[inst] = tidy
	}
	p.mu.Unlock()
	// Before the instance's first holder: remove the holders other
	// processes left, and take the ones they parked for it.
	tidy.Do(func() { e.tidyHolders(ctx, inst) })
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off || p.closed {
		return nil
	}
	p.started[inst]++
	list := p.idle[inst]
	waiting := false // a holder waits for a socket to go
	for i := len(list) - 1; i >= 0; i-- {
		h := list[i]
		keep, why := h.state()
		if !keep {
			e.log.Debug("removing a network namespace holder", "id", short(h.id), "why", why)
			list = append(list[:i:i], list[i+1:]...)
			h.idle.Stop()
			go e.removeHolder(h)
			continue
		}
		if why != "" {
			waiting = true // a socket is left: not yet
			continue
		}
		p.idle[inst] = append(list[:i:i], list[i+1:]...)
		h.idle.Stop()
		return h
	}
	p.idle[inst] = list
	// Another holder is made when none is idle: one that waits out a
	// socket (every build whose test-script connects leaves one) is
	// ready within a minute, and a holder made for each such build
	// would cost more than it spares.
	if p.started[inst] > 1 && !p.making[inst] && !waiting {
		p.making[inst] = true
		p.bg.Go(func() {
			mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			h, err := e.newHolder(mctx, inst)
			p.mu.Lock()
			p.making[inst] = false
			p.mu.Unlock()
			if err != nil {
				e.log.Debug("no network namespace holder", "err", err)
				return
			}
			e.giveBack(h)
		})
	}
	return nil
}

// newHolder starts a holder for instance.
func (e *Engine) newHolder(ctx context.Context, instance string) (*holder, error) {
	hc := e.confined(ctx)
	hc.CapDrop = []string{"ALL"}
	hc.SecurityOpt = []string{"no-new-privileges"}
	hc.ReadonlyRootfs = true
	hc.Resources = resources(pipeline.Limits{Memory: 16 << 20, CPUs: 0.1, PIDs: 4})
	hc.Sysctls = map[string]string{noTimeWait: "0"}
	hc.AutoRemove = true // one that ends itself (holderpark.go) leaves nothing
	id, err := e.startHolder(ctx, instance, &hc)
	if err != nil {
		// A kernel whose network namespaces do not have the
		// setting: the holder waits out its sockets instead.
		e.log.Debug("a network namespace holder without "+noTimeWait, "err", err)
		hc.Sysctls = nil
		if id, err = e.startHolder(ctx, instance, &hc); err != nil {
			return nil, err
		}
	}
	h, err := e.inspectHolder(ctx, id, instance)
	if err != nil {
		e.remove(id)
		return nil, err
	}
	e.log.Debug("started a network namespace holder", "id", short(id), "addr", h.addr)
	return h, nil
}

// inspectHolder returns the running holder id of instance: its process,
// namespace and address. Where the host's /proc does not show its process,
// it turns holders off.
func (e *Engine) inspectHolder(ctx context.Context, id, instance string) (*holder, error) {
	h := &holder{id: id, instance: instance}
	ins, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspecting a network namespace holder: %w", err)
	}
	if c := ins.Container; c.State != nil {
		h.pid = c.State.Pid
	}
	h.addr = ipv4Of(ins.Container.NetworkSettings)
	if h.netns, err = os.Readlink(fmt.Sprintf("%s/%d/ns/net", procRoot, h.pid)); err != nil || !h.alive() {
		// The host does not show the engine's processes: what a
		// container leaves in a namespace could not be seen.
		e.nets.mu.Lock()
		e.nets.off = true
		e.nets.mu.Unlock()
		return nil, fmt.Errorf("the engine's containers are not in %s: no holders", procRoot)
	}
	return h, nil
}

// noTimeWait is the sysctl that, set to 0, keeps no TCP socket in
// TIME_WAIT in a network namespace.
const noTimeWait = "net.ipv4.tcp_max_tw_buckets"

// startHolder creates and starts a holder's container with hc.
func (e *Engine) startHolder(ctx context.Context, instance string, hc *container.HostConfig) (string, error) {
	image, err := e.EnsureToolbox(ctx)
	if err != nil {
		return "", err
	}
	id, err := e.createContainer(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:  image,
			Cmd:    holderCmd,
			Env:    []string{"PATH=/bin"},
			User:   fmt.Sprintf("%d:%d", SandboxUID, SandboxUID),
			Labels: map[string]string{pipeline.LabelInstance: instance, holderLabel: "1"},
		},
		HostConfig: hc,
		Name:       ownedName(),
	})
	if err != nil {
		return "", fmt.Errorf("creating a network namespace holder: %w", err)
	}
	if _, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		e.remove(id)
		return "", fmt.Errorf("starting a network namespace holder: %w", err)
	}
	return id, nil
}

// claim records that the container id joined h.
func (e *Engine) claim(id string, h *holder) {
	p := e.nets
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.claimed == nil {
		p.claimed = map[string]*holder{}
	}
	p.claimed[id] = h
}

// holderOf returns the holder the container id joined, nil when none.
func (e *Engine) holderOf(id string) *holder {
	if e.nets == nil {
		return nil
	}
	e.nets.mu.Lock()
	defer e.nets.mu.Unlock()
	return e.nets.claimed[id]
}

// release gives back the holder the container id joined, now that the
// container is gone: it is kept for the next container when its namespace
// is as new, else removed.
func (e *Engine) release(id string) {
	p := e.nets
	if p == nil {
		return
	}
	p.mu.Lock()
	h := p.claimed[id]
	delete(p.claimed, id)
	p.mu.Unlock()
	if h != nil {
		e.giveBack(h)
	}
}

// giveBack keeps h idle when its namespace can be as new again (a socket
// in TIME_WAIT is left at most), else removes it.
func (e *Engine) giveBack(h *holder) {
	if keep, why := h.state(); !keep {
		e.log.Debug("removing a network namespace holder", "id", short(h.id), "why", why)
		go e.removeHolder(h)
		return
	}
	p := e.nets
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		e.removeHolder(h)
		return
	}
	if len(p.idle[h.instance]) >= holdersIdle {
		p.mu.Unlock()
		go e.removeHolder(h)
		return
	}
	p.idle[h.instance] = append(p.idle[h.instance], h)
	if p.kept == nil {
		p.kept = make(chan struct{})
		go e.keepHolders(p.kept)
	}
	h.idle = time.AfterFunc(holderIdle, func() {
		p.mu.Lock()
		list := p.idle[h.instance]
		for i, x := range list {
			if x == h {
				p.idle[h.instance] = append(list[:i:i], list[i+1:]...)
				p.mu.Unlock()
				e.removeHolder(h)
				return
			}
		}
		p.mu.Unlock() // taken meanwhile
	})
	p.mu.Unlock()
}

// removeHolder removes h's container.
func (e *Engine) removeHolder(h *holder) { e.remove(h.id) }

// closeHolders parks the idle holders whose namespace is as new (up to
// holdersParked, for the next process: holderpark.go), removes every
// other one, idle or joined, and keeps no more.
func (e *Engine) closeHolders() {
	p := e.nets
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closed = true
	if p.kept != nil {
		close(p.kept)
		p.kept = nil
	}
	p.mu.Unlock()
	p.bg.Wait() // a holder made meanwhile is removed as it is given back
	p.mu.Lock()
	var idle, toRemove []*holder
	for _, list := range p.idle {
		for _, h := range list {
			h.idle.Stop()
			idle = append(idle, h)
		}
	}
	for _, h := range p.claimed {
		toRemove = append(toRemove, h)
	}
	p.idle, p.claimed = nil, nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	parked := 0
	for _, h := range idle {
		if keep, why := h.state(); keep && why == "" && parked < holdersParked {
			parked++
			wg.Go(func() { e.park(h) })
			continue
		}
		toRemove = append(toRemove, h)
	}
	for _, h := range toRemove {
		wg.Go(func() { e.removeHolder(h) })
	}
	wg.Wait()
}

// alive reports whether h's process still runs as the holder's: its
// cgroup names the holder's container and its namespace is the one seen
// when it started.
func (h *holder) alive() bool {
	dir := fmt.Sprintf("%s/%d", procRoot, h.pid)
	if !inContainer(dir, h.id) {
		return false
	}
	ns, err := os.Readlink(dir + "/ns/net")
	return err == nil && (h.netns == "" || ns == h.netns)
}

// inContainer reports whether the process of /proc folder dir runs in the
// container id: its cgroup names it.
func inContainer(dir, id string) bool {
	cg, err := os.ReadFile(filepath.Join(dir, "cgroup"))
	return err == nil && id != "" && bytes.Contains(cg, []byte(id))
}

// state says whether h's namespace can be joined again (keep) and, when
// not yet or never, why: the holder is gone, another process is in it, or
// a socket is left (a TCP one that no process holds, as TIME_WAIT, goes
// by itself: keep is true, not yet).
func (h *holder) state() (keep bool, why string) {
	if !h.alive() {
		return false, "it no longer runs"
	}
	if pid, err := otherIn(h.netns, h.id); err != nil || pid != 0 {
		return false, fmt.Sprintf("process %d is still in its network namespace (%v)", pid, err)
	}
	dir := fmt.Sprintf("%s/%d/net/", procRoot, h.pid)
	keep = true
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6", "raw", "raw6"} {
		b, err := os.ReadFile(dir + f)
		if err != nil {
			return false, fmt.Sprintf("reading %s%s: %v", dir, f, err)
		}
		if n := bytes.Count(b, []byte("\n")); n > 1 {
			why = fmt.Sprintf("%d socket(s) are left in %s%s", n-1, dir, f)
			keep = keep && strings.HasPrefix(f, "tcp")
		}
	}
	return keep, why
}

// otherIn returns a process in the network namespace ns that is not the
// container own's (its cgroup does not name own), 0 when there is none.
func otherIn(ns, own string) (int, error) {
	d, err := os.Open(procRoot)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		dir := filepath.Join(procRoot, name)
		if link, err := os.Readlink(filepath.Join(dir, "ns", "net")); err != nil || link != ns {
			continue
		}
		if inContainer(dir, own) {
			continue // the holder's own shell, or its sleep
		}
		return pid, nil
	}
	return 0, nil
}
