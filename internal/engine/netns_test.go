package engine

import (
	"context"
	"os"
	osexec "os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestContainersShareKeptNetworkNamespaces: the first container on the
// default network gets a namespace of its own; from the second on, a
// holder is made, and later containers join it, one at a time, with the
// network a namespace of its own gives; a namespace with a socket left is
// not joined while it is there; Close removes the holders joined or not
// as new (it parks an idle one as new: holderpark_test.go).
func TestContainersShareKeptNetworkNamespaces(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if e.podman {
		t.Skip("Podman gets no holders: it runs no setkey hook to spare")
	}
	id := uniqueID(t)
	owner := pipeline.Owner{Instance: id}
	ctx := pipeline.WithOwner(t.Context(), owner)
	t.Cleanup(func() { _, _ = e.Reap(context.Background(), owner.Labels()) })
	image := buildImage(t, e, id, id+":test", map[string]string{"rootfs/www/index.html": "hello\n"})
	serve := pipeline.ContainerSpec{Image: image, Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/www"}, Labels: map[string]string{testLabel: id}}
	// start starts a server and returns its ID and the holder it joined
	// ("": a namespace of its own).
	start := func() (cid, holderID string) {
		t.Helper()
		cid, err := e.StartContainer(ctx, serve)
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		t.Cleanup(func() { _ = e.RemoveContainer(context.Background(), cid) })
		ins, err := e.cli.ContainerInspect(ctx, cid, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cid, strings.TrimPrefix(string(ins.Container.HostConfig.NetworkMode), "container:")
	}
	own := func(h string) bool { return h == "" || h == "default" || h == "bridge" }
	exec := func(cid, script string) (int, string) {
		t.Helper()
		var out strings.Builder
		code, err := e.Exec(ctx, cid, []string{"sh", "-c", script}, &out)
		if err != nil {
			t.Fatalf("Exec %q: %v", script, err)
		}
		return code, out.String()
	}
	waitIdle := func() {
		t.Helper()
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			e.nets.mu.Lock()
			n, off := len(e.nets.idle[id]), e.nets.off
			e.nets.mu.Unlock()
			if off {
				if os.Getenv("CI") == "true" {
					t.Fatal("holders are off on this host's engine: its containers are not in /proc")
				}
				t.Skip("holders are off here (a remote engine?)")
			}
			if n > 0 {
				return
			}
		}
		t.Fatal("no holder was made within a minute")
	}

	if _, h := start(); !own(h) {
		t.Errorf("the first container joined %s; want a namespace of its own (a single build makes no holder)", h)
	}
	if _, h := start(); !own(h) {
		t.Errorf("the second container joined %s; none was ready", h)
	}
	waitIdle()
	first, h1 := start()
	if own(h1) {
		t.Fatalf("a container got a namespace of its own (%q) with a holder idle", h1)
	}
	// The network is a namespace's own: an address on the default
	// bridge, the hostname resolves, and its ports are read from /proc.
	var open []int
	var err error
	for end := time.Now().Add(time.Minute); time.Now().Before(end) && len(open) == 0; time.Sleep(50 * time.Millisecond) {
		if open, err = e.ProbePorts(ctx, first, []int{8080, 8081}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(open, []int{8080}) {
		t.Errorf("ProbePorts = %v; want [8080]", open)
	}
	if _, ok, err := e.probeProc(ctx, first, []int{8080}); !ok || err != nil {
		t.Errorf("probeProc of a container in a holder's namespace: ok %v, %v; want its sockets read", ok, err)
	}
	if code, out := exec(first, `ip -4 addr show eth0 | grep -q 'inet ' && grep -q "$(hostname)" /etc/hosts && echo ok`); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("the container has no address of its own or cannot resolve its hostname: %d %q", code, out)
	}

	// Two at once never share one.
	if _, h := start(); h == h1 {
		t.Errorf("two running containers share holder %s", short(h1))
	}
	if err := e.RemoveContainer(ctx, first); err != nil {
		t.Fatal(err)
	}
	third, h3 := start()
	if h3 != h1 {
		t.Errorf("the next container joined %q, not the kept %s", h3, short(h1))
	}

	// A connection the server closed first leaves no socket in
	// TIME_WAIT in a holder's namespace: it is joined again at once.
	fetch := func(cid string) {
		t.Helper()
		if code, out := exec(cid, `wget -q -O - http://127.0.0.1:8080/`); code != 0 || !strings.Contains(out, "hello") {
			t.Fatalf("fetching the page: %d %q", code, out)
		}
		if err := e.RemoveContainer(ctx, cid); err != nil {
			t.Fatal(err)
		}
	}
	fetch(third)
	fourth, h4 := start()
	if h4 != h1 {
		t.Errorf("after a fetched page, the next container joined %q, not the kept %s", h4, short(h1))
	}
	// Where the kernel keeps TIME_WAIT in the namespace (here: the
	// setting is undone from the host), the namespace is not joined
	// while the socket is there.
	holder := e.holderOf(fourth)
	if holder == nil {
		t.Fatalf("no holder is recorded for %s", short(fourth))
	}
	undo := osexec.Command("nsenter", "--net=/proc/"+strconv.Itoa(holder.pid)+"/ns/net", "sh", "-c", "echo 4096 > /proc/sys/"+strings.ReplaceAll(noTimeWait, ".", "/"))
	if out, err := undo.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", undo, err, out)
	}
	fetch(fourth)
	if _, h := start(); h == h1 {
		t.Errorf("a namespace with a socket left in TIME_WAIT was joined")
	}

	// Close removes every holder here: each is joined, or has a
	// socket left.
	e.closeHolders()
	f := make(client.Filters).Add("label", holderLabel+"=1").Add("label", pipeline.LabelInstance+"="+id)
	if cs, err := e.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f}); err != nil || len(cs.Items) > 0 {
		t.Errorf("Close left %d holders (%v)", len(cs.Items), err)
	}
	if h := e.joinHolder(ctx); h != nil {
		t.Errorf("a closed engine gave holder %s", short(h.id))
	}
}

// TestOtherIn: a process sharing a network namespace is found; a
// namespace nobody is in finds nobody.
func TestOtherIn(t *testing.T) {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Skip("no /proc here")
	}
	child := osexec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	if pid, err := otherIn(self, ""); err != nil || pid == 0 {
		t.Errorf("otherIn(our namespace) = %d, %v; want another process (our child %d shares it)", pid, err, child.Process.Pid)
	}
	if pid, err := otherIn("net:[0]", ""); err != nil || pid != 0 {
		t.Errorf("otherIn(no namespace) = %d, %v; want 0", pid, err)
	}
}
