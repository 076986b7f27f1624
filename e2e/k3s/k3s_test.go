// Package k3s tests scripts/k3s.sh, the single-node Kubernetes the
// Kubernetes executor will run on: up, pods of the images it made locally
// and of an image pulled through its registries.yaml, down, and nothing of
// the cluster left on the machine (TestK3s, only with HOIST_K3S_TEST=1,
// make k3s-test: the first run builds k3s, 6–18 minutes); and Hoist
// deployed into the running cluster with deploy/kubernetes (TestDeploy).
package k3s

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/testenv"
)

// dataDir is the script's default HOIST_K3S_DATA.
const dataDir = "/var/lib/hoist-k3s"

// mirror is the registry name the cluster pulls from the test's loopback
// registry, through registries.yaml.
const mirror = "hoist-k3s.test"

func TestK3s(t *testing.T) {
	if os.Getenv("HOIST_K3S_TEST") != "1" {
		t.Skip("the k3s test runs with HOIST_K3S_TEST=1 (make k3s-test)")
	}
	if os.Getuid() != 0 {
		testenv.Missing(t, "scripts/k3s.sh needs root")
	}
	script, err := filepath.Abs("../../scripts/k3s.sh")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(script, "status").CombinedOutput(); err == nil {
		t.Fatalf("a cluster is already up (%s): this test brings up its own and takes it down; run scripts/k3s.sh down first", bytes.TrimSpace(out))
	}
	reg := testenv.DockerRegistry(t)
	pushed := pushImage(t, reg, "smoke:1")

	base := leftovers(t)
	env := append(os.Environ(), "HOIST_K3S_REGISTRIES="+mirror+"=http://"+reg)
	start := time.Now()
	up := exec.Command(script, "up")
	up.Env = env
	up.Stdout, up.Stderr = testWriter{t}, testWriter{t}
	down := func() {
		start := time.Now()
		out, err := exec.Command(script, "down").CombinedOutput()
		t.Logf("down: %v, %s", time.Since(start).Round(10*time.Millisecond), out)
		if err != nil {
			t.Errorf("scripts/k3s.sh down: %v", err)
		}
	}
	upErr := up.Run()
	t.Cleanup(func() {
		if t.Failed() {
			down()
		}
	})
	if upErr != nil {
		t.Fatalf("scripts/k3s.sh up: %v", upErr)
	}
	t.Logf("up to Ready: %v", time.Since(start).Round(10*time.Millisecond))
	if out := run(t, script, "status"); !strings.Contains(out, "node Ready") {
		t.Fatalf("status after up = %q, want node Ready", out)
	}
	if out, err := exec.Command(script, "up").CombinedOutput(); err != nil || !strings.Contains(string(out), "already up") {
		t.Fatalf("a second up: %v, %s; want it to say already up", err, out)
	}
	if kc := strings.TrimSpace(run(t, script, "kubeconfig")); kc != filepath.Join(dataDir, "kubeconfig.yaml") {
		t.Errorf("kubeconfig = %q", kc)
	}

	// The toolbox the engine would import, made and imported by up.
	toolbox, _, err := engine.ToolboxImage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d := podRun(t, script, "toolbox", toolbox, "Never", "Succeeded", []string{"sh", "-c", "echo hello from the toolbox; grep -c hoist /etc/passwd"})
	t.Logf("toolbox pod, created to Succeeded: %v", d.Round(10*time.Millisecond))
	if logs := run(t, script, "kubectl", "logs", "toolbox"); logs != "hello from the toolbox\n1\n" {
		t.Errorf("toolbox pod's logs = %q", logs)
	}
	// An image only the loopback registry holds, named through the mirror.
	d = podRun(t, script, "pulled", mirror+"/smoke:1", "Always", "Succeeded")
	t.Logf("pulled pod, created to Succeeded: %v", d.Round(10*time.Millisecond))
	if logs := run(t, script, "kubectl", "logs", "pulled"); logs != pushed {
		t.Errorf("pulled pod's logs = %q, want %q", logs, pushed)
	}
	// BuildKit's image: its binaries, and Debian's runc with its libraries.
	var buildkit string
	for _, ref := range strings.Fields(run(t, script, "images")) {
		if strings.HasPrefix(ref, "hoist-buildkit:") {
			buildkit = ref
		}
	}
	if buildkit == "" {
		t.Fatalf("no hoist-buildkit image among scripts/k3s.sh images")
	}
	podRun(t, script, "buildkit", buildkit, "Never", "Succeeded", []string{"buildkitd", "--version"}, []string{"runc", "--version"})
	if logs := run(t, script, "kubectl", "logs", "buildkit", "-c", "c0"); !strings.Contains(logs, "v0.34.1") {
		t.Errorf("buildkitd --version in its image = %q", logs)
	}
	if logs := run(t, script, "kubectl", "logs", "buildkit", "-c", "c1"); !strings.Contains(logs, "runc version") {
		t.Errorf("runc --version in buildkit's image = %q", logs)
	}

	// buildkitd serves in a privileged pod on the host's network, as the
	// executor will run it.
	applyPod(t, script, "buildkitd", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: buildkitd
spec:
  hostNetwork: true
  containers:
  - name: buildkitd
    image: %s
    imagePullPolicy: Never
    args: [--oci-worker=true, --containerd-worker=false]
    securityContext:
      privileged: true
`, buildkit), "Running")
	var workers []byte
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		workers, err = exec.Command(script, "kubectl", "exec", "buildkitd", "--", "buildctl", "debug", "workers").CombinedOutput()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !bytes.Contains(workers, []byte("linux/amd64")) {
		t.Errorf("buildctl debug workers in the buildkitd pod: %v\n%s", err, workers)
	}

	// A pod still running when the cluster goes down: its processes,
	// mounts, network namespace and masquerade rules must go too.
	podRun(t, script, "running", toolbox, "Never", "Running", []string{"sleep", "3600"})

	down()
	if out, err := exec.Command(script, "status").CombinedOutput(); err == nil || !strings.Contains(string(out), "down") {
		t.Errorf("status after down: %v, %s; want down and a failure", err, out)
	}
	after := leftovers(t)
	for _, l := range after {
		if !contains(base, l) {
			t.Errorf("left after down: %s", l)
		}
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Errorf("docker info after down: %v\n%s", err, out)
	}
}

// podRun creates a pod of image with a container per command (one with
// the image's command when there is none), waits until it reaches phase
// want (Running or Succeeded), and returns how long that took.
func podRun(t *testing.T, k3s, pod, image, pull, want string, commands ...[]string) time.Duration {
	t.Helper()
	if len(commands) == 0 {
		commands = [][]string{nil}
	}
	var containers strings.Builder
	for i, c := range commands {
		fmt.Fprintf(&containers, "  - name: c%d\n    image: %s\n    imagePullPolicy: %s\n", i, image, pull)
		if c != nil {
			q := make([]string, len(c))
			for j, a := range c {
				q[j] = fmt.Sprintf("%q", a)
			}
			fmt.Fprintf(&containers, "    command: [%s]\n", strings.Join(q, ", "))
		}
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: Never
  containers:
%s`, pod, containers.String())
	return applyPod(t, k3s, pod, manifest, want)
}

// applyPod creates the pod of manifest, waits until it reaches phase want,
// and returns how long that took.
func applyPod(t *testing.T, k3s, pod, manifest, want string) time.Duration {
	t.Helper()
	start := time.Now()
	c := exec.Command(k3s, "kubectl", "apply", "-f", "-")
	c.Stdin = strings.NewReader(manifest)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("creating pod %s: %v\n%s", pod, err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		phase := run(t, k3s, "kubectl", "get", "pod", pod, "-o", "jsonpath={.status.phase}")
		switch phase {
		case want:
			return time.Since(start)
		case "Failed", "Succeeded":
			t.Fatalf("pod %s %s, want %s:\n%s", pod, phase, want, run(t, k3s, "kubectl", "describe", "pod", pod))
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s still %q after 2 min:\n%s", pod, phase, run(t, k3s, "kubectl", "describe", "pod", pod))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pushImage pushes to reg an image of the toolbox's files whose command
// prints a line, and returns that line.
func pushImage(t *testing.T, reg, repoTag string) string {
	t.Helper()
	_, rootfs, err := engine.ToolboxImage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	if err := rootfs(&layer); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	line := "pulled through " + mirror + "\n"
	img, err = mutate.Config(img, v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh", "-c", "printf '" + line[:len(line)-1] + "\\n'"}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return line
}

// leftovers lists what of a cluster is on the machine now: k3s processes
// and shims, mounts, interfaces, iptables rules and chains, nft tables.
func leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		exe, _ := os.Readlink(p + "/exe")
		cmdline, _ := os.ReadFile(p + "/cmdline")
		if strings.HasPrefix(exe, "/var/cache/hoist/k3s/") || bytes.Contains(cmdline, []byte("/run/k3s/containerd")) {
			out = append(out, fmt.Sprintf("process %s: %s", filepath.Base(p), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, prefix := range []string{"/run/k3s", "/var/lib/kubelet", dataDir, "/run/netns/cni-"} {
			if strings.HasPrefix(f[4], prefix) {
				out = append(out, "mount "+f[4])
			}
		}
	}
	for _, link := range []string{"cni0", "flannel.1"} {
		if _, err := net.InterfaceByName(link); err == nil {
			out = append(out, "interface "+link)
		}
	}
	for _, path := range []string{"/run/k3s", "/var/lib/kubelet/pods", "/etc/rancher/node/password", "/var/log/pods", filepath.Join(dataDir, "k3s")} {
		if _, err := os.Stat(path); err == nil {
			out = append(out, "path "+path)
		}
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle", "raw"} {
			rules, err := exec.Command(ipt, "-w", "-t", table, "-S").Output()
			if err != nil {
				t.Fatalf("%s -t %s -S: %v", ipt, table, err)
			}
			for _, r := range strings.Split(string(rules), "\n") {
				if strings.Contains(r, "KUBE-") || strings.Contains(r, "hoist-k3s") || strings.HasPrefix(r, "-N CNI-") {
					out = append(out, ipt+" -t "+table+" "+r)
				}
			}
		}
	}
	if tables, err := exec.CommandContext(context.Background(), "nft", "list", "tables").Output(); err == nil {
		for _, l := range strings.Split(string(tables), "\n") {
			if strings.Contains(l, "kube") {
				out = append(out, "nft "+l)
			}
		}
	}
	return out
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testWriter logs what the script says.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
