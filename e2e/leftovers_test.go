package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestServeReapsLeftovers kills hoist serve (kill -9) while one build's
// prebuild script runs with children that ignore SIGTERM (one of them in a
// session of its own) and another build's autotest runs, then restarts it
// on the same data folder: the processes, containers and networks the
// killed server left are gone, and those of a second server on another
// data folder, on the same engine, are untouched.
func TestServeReapsLeftovers(t *testing.T) {
	host := testenv.DockerHost(t)
	pids := t.TempDir()
	hang := testenv.GitRepo(t, map[string]string{
		"Dockerfile": "FROM scratch\n",
		"prebuild.sh": "#!/bin/sh\ntrap '' TERM\nd=" + pids + "/$HOIST_INSTANCE\nmkdir -p $d\n" +
			"( trap '' TERM; exec sleep 1000 ) &\necho $! > $d/child\n" +
			"setsid sh -c \"trap '' TERM; echo \\$\\$ > $d/escaped; exec sleep 1000\" </dev/null >/dev/null 2>&1 &\n" +
			"echo started\nexec sleep 1000\n",
	})
	rootfs, err := os.ReadFile("../examples/busybox/prebuild.sh")
	if err != nil {
		t.Fatal(err)
	}
	auto := testenv.GitRepo(t, map[string]string{
		"prebuild.sh":   string(rootfs),
		"Dockerfile":    "FROM scratch\nADD rootfs.tar /\nCMD [\"sleep\", \"1000\"]\n",
		"db/Dockerfile": "ARG BASE\nFROM $BASE\nLABEL db=1\n",
		"docker-compose.test.yml": `services:
  sut:
    build: .
    command: ["sh", "-c", "echo up; exec sleep 1000"]
    depends_on: [db]
  db:
    build:
      context: ./db
      args: {BASE: "${IMAGE_NAME}"}
    command: ["sleep", "1000"]
`,
	})
	prebuild := "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"
	idx := writeIndex(t, "crash", entry(1, "crash", "hang", hang, prebuild), entry(2, "crash", "auto", auto, prebuild))

	e, err := engine.New(t.Context(), engine.Options{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cli, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	// Two servers on one engine, each with its own data folder.
	type server struct {
		args     []string
		srv      *served
		instance string
	}
	start := func() *server {
		data := filepath.Join(t.TempDir(), "data")
		s := &server{args: []string{"serve", "--trust-index", "--index", idx, "--addr", freeAddr(t), "--data", data, "--registry-addr", freeAddr(t), "--workers", "2"}}
		s.srv = startServe(t, s.args...)
		b, err := os.ReadFile(filepath.Join(data, "instance"))
		if err != nil {
			t.Fatal(err)
		}
		s.instance = strings.TrimSpace(string(b))
		t.Cleanup(func() {
			_, _ = script.Reap(s.instance)
			_, _ = e.Reap(context.Background(), map[string]string{pipeline.LabelInstance: s.instance})
		})
		return s
	}
	a, b := start(), start()
	defer b.srv.stop(t)

	// Both servers build both projects (the index is new to them); wait
	// until the prebuild's children and the autotest's containers run.
	made := func(s *server) (containers, networks []string) {
		f := make(client.Filters).Add("label", pipeline.LabelInstance+"="+s.instance).Add("label", "org.hoistci.autotest")
		cs, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs.Items {
			containers = append(containers, c.ID)
		}
		ns, err := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns.Items {
			networks = append(networks, n.ID)
		}
		return containers, networks
	}
	for _, s := range []*server{a, b} {
		waitFor(t, "the prebuild's children", func() bool {
			return fileHasPid(filepath.Join(pids, s.instance, "child")) && fileHasPid(filepath.Join(pids, s.instance, "escaped"))
		})
		waitForLong(t, "the autotest's two containers and its network", 5*time.Minute, func() bool {
			cs, ns := made(s)
			return len(cs) == 2 && len(ns) == 1
		})
	}
	aContainers, aNetworks := made(a)
	aPids := []int{readPidFile(t, filepath.Join(pids, a.instance, "child")), readPidFile(t, filepath.Join(pids, a.instance, "escaped"))}
	bContainers, bNetworks := made(b)
	bPids := []int{readPidFile(t, filepath.Join(pids, b.instance, "child")), readPidFile(t, filepath.Join(pids, b.instance, "escaped"))}

	a.srv.kill(t)
	time.Sleep(time.Second)
	for _, pid := range aPids {
		if !alive(pid) {
			t.Fatalf("process %d of the killed server died by itself: the test proves nothing", pid)
		}
	}
	// The server reaps before it answers /readyz.
	a.srv = startServe(t, a.args...)
	defer a.srv.stop(t)
	mustContain(t, "the restarted server's log", a.srv.output(), "removed what the last run left behind")

	for _, pid := range aPids {
		for i := 0; alive(pid) && i < 50; i++ { // SIGKILL was sent; it lands soon
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d of the killed server still runs after the restart", pid)
		}
	}
	for _, id := range aContainers {
		if _, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{}); err == nil {
			t.Errorf("container %.12s of the killed server is still there after the restart", id)
		}
	}
	for _, id := range aNetworks {
		if _, err := cli.NetworkInspect(context.Background(), id, client.NetworkInspectOptions{}); err == nil {
			t.Errorf("network %.12s of the killed server is still there after the restart", id)
		}
	}
	// The other server's are untouched.
	for _, pid := range bPids {
		if !alive(pid) {
			t.Errorf("process %d of the other server was killed", pid)
		}
	}
	for _, id := range bContainers {
		res, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
		if err != nil || res.Container.State == nil || !res.Container.State.Running {
			t.Errorf("container %.12s of the other server: %v", id, err)
		}
	}
	for _, id := range bNetworks {
		if _, err := cli.NetworkInspect(context.Background(), id, client.NetworkInspectOptions{}); err != nil {
			t.Errorf("network %.12s of the other server: %v", id, err)
		}
	}
}

// fileHasPid reports whether path holds a number.
func fileHasPid(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	_, err = strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil
}

func readPidFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] != 'Z'
	}
	return true
}

// waitForLong polls cond for up to timeout.
func waitForLong(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
