package kube

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// webExecutor is an executor with a registry holding the web image as
// the local name "web:1".
func webExecutor(t *testing.T, page string) (*Executor, string) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	pushWebImage(t, reg+"/hoist-local/web:1", page)
	return x, "web:1"
}

func TestRunStayUp(t *testing.T) {
	x, img := webExecutor(t, "run's page")
	ctx := testCtx(t, 21)
	var log bytes.Buffer
	// Command and environment reach the container as given: Kubernetes
	// would expand $(GREETING) in them.
	res, err := x.Run(ctx, pipeline.RunSpec{Image: img,
		Cmd: []string{"sh", "-c", `cat /www/index.html; echo $GREETING; v='$(GREETING)'; echo "$v $LIT"; exit 5`},
		Env: []string{"GREETING=hi", "LIT=$(GREETING)"}}, &log)
	if want := "run's page\nhi\n$(GREETING) $(GREETING)\n"; err != nil || !res.Exited || res.ExitCode != 5 || log.String() != want {
		t.Errorf("Run: %+v, %v, output %q; want exit 5 printing %q", res, err, log.String(), want)
	}
	log.Reset()
	start := time.Now()
	res, err = x.Run(ctx, pipeline.RunSpec{Image: img, Cmd: []string{"sh", "-c", "echo up; sleep 600"}, StayUp: 3 * time.Second}, &log)
	if err != nil || res.Exited || !strings.Contains(log.String(), "up") {
		t.Errorf("Run of a server: %+v, %v, output %q; want it still up after 3 s", res, err, log.String())
	}
	if d := time.Since(start); d > 90*time.Second {
		t.Errorf("Run of a server took %v", d)
	}
	if got := podsOf(t, x, "run"); len(got) != 0 {
		t.Errorf("pods left: %v", got)
	}
	if _, err := x.Run(ctx, pipeline.RunSpec{Image: "missing:1"}, io.Discard); err == nil || !strings.Contains(err.Error(), "missing:1") {
		t.Errorf("Run of a missing image: %v; want an error naming it", err)
	}
	if got := podsOf(t, x, "run"); len(got) != 0 {
		t.Errorf("pods left: %v", got)
	}
}

func TestStartContainerNetworkAliases(t *testing.T) {
	x, img := webExecutor(t, "the service's page")
	ctx := testCtx(t, 22)
	net, err := x.CreateNetwork(ctx, "kubetest", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer x.RemoveNetwork(context.Background(), net)
	svc, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img, Network: net, Aliases: []string{"web", "www"},
		Labels: map[string]string{"com.example.service": "web server/1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.RemoveContainer(context.Background(), svc)
	p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil || p.Labels["com.example.service"] != "web_server_1" || !strings.Contains(p.Annotations[annotationLabels], "web server/1") {
		t.Errorf("the service's labels %v, annotations %v, %v", p.Labels, p.Annotations, err)
	}
	sut, err := x.StartContainer(ctx, pipeline.ContainerSpec{
		Image: img, Network: net, Aliases: []string{"sut"}, User: "1234:1234", WorkingDir: "/www",
		Entrypoint: []string{}, Cmd: []string{"sh", "-c", `id -u; pwd; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://www:8080/ && grep -c sut /etc/hosts && exit 0; sleep 1; done; exit 1`},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer x.RemoveContainer(context.Background(), sut)
	code, err := x.WaitContainer(ctx, sut)
	var out bytes.Buffer
	if oerr := x.ContainerOutput(ctx, sut, &out, io.Discard, false); oerr != nil {
		t.Error(oerr)
	}
	if err != nil || code != 0 || out.String() != "1234\n/www\nthe service's page\n1\n" {
		t.Errorf("the sut: exit %d, %v, output %q; want uid 1234 in /www reaching the service by its alias", code, err, out.String())
	}
	if _, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img, User: "nobody"}); err == nil || !strings.Contains(err.Error(), "numeric") {
		t.Errorf("StartContainer as a user by name: %v; want it refused (numeric ids only)", err)
	}
	if _, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img, Privileged: true}); err == nil {
		t.Errorf("StartContainer privileged: nil; want it refused")
	}
}

func TestProbePorts(t *testing.T) {
	x, img := webExecutor(t, "probed")
	ctx := testCtx(t, 23)
	id, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	defer x.RemoveContainer(context.Background(), id)
	var open []int
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if open, err = x.ProbePorts(ctx, id, []int{9090, 8080}); err != nil || len(open) > 0 {
			break
		}
	}
	if err != nil || len(open) != 1 || open[0] != 8080 {
		t.Errorf("ProbePorts(9090, 8080) = %v, %v; want [8080]", open, err)
	}
	local, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img, Cmd: []string{"httpd", "-f", "-p", "127.0.0.1:8081", "-h", "/www"}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.RemoveContainer(context.Background(), local)
	time.Sleep(time.Second)
	if open, err := x.ProbePorts(ctx, local, []int{8081}); err != nil || len(open) != 0 {
		t.Errorf("ProbePorts of a port bound to 127.0.0.1 = %v, %v; want none open", open, err)
	}
	gone, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img, Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.RemoveContainer(context.Background(), gone)
	if code, err := x.WaitContainer(ctx, gone); err != nil || code != 0 {
		t.Fatalf("WaitContainer: %d, %v", code, err)
	}
	if open, err := x.ProbePorts(ctx, gone, []int{8080}); err == nil {
		t.Errorf("ProbePorts of an exited container = %v, nil; want an error", open)
	}
}

func TestJoinContainerReachesLocalhost(t *testing.T) {
	x, img := webExecutor(t, "beside the image under test")
	ctx := testCtx(t, 24)
	id, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	defer x.RemoveContainer(context.Background(), id)
	ws := t.TempDir()
	mustWrite(t, filepath.Join(ws, "in.txt"), "in\n", 0o644)
	spec := scriptSpec(t, ws, "#!/bin/sh\nid -u\ncat in.txt\nfor i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://localhost:8080/ > got.txt && cat got.txt && exit 0; sleep 1; done; exit 1\n")
	spec.JoinContainer = id
	var log bytes.Buffer
	if err := x.Sandbox().RunScript(ctx, spec, &log); err != nil || log.String() != "1000\nin\nbeside the image under test\n" {
		t.Errorf("RunScript beside the container: %v\n%s", err, log.String())
	}
	if b, err := os.ReadFile(filepath.Join(ws, "got.txt")); err != nil || string(b) != "beside the image under test\n" {
		t.Errorf("got.txt = %q, %v; want the page the script fetched", b, err)
	}
	// A second script beside it; a cancel ends it at once.
	err = x.Sandbox().RunScript(ctx, scriptSpec(t, ws, "#!/bin/sh\nexit 7\n"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exited with status 7") {
		t.Errorf("a failing script: %v; want exited with status 7", err)
	}
	spec = scriptSpec(t, ws, "#!/bin/sh\necho started\nsleep 600\n")
	spec.JoinContainer, spec.Timeout = id, 15*time.Second
	start := time.Now()
	if err := x.Sandbox().RunScript(ctx, spec, io.Discard); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("a script beside the container past its timeout: %v", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the timeout took %v", d)
	}
	// The script's container ends soon after (the keeper marks it killed).
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, id, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, s := range p.Status.EphemeralContainerStatuses {
			if s.State.Terminated == nil {
				running++
			}
		}
		if running == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d script containers still run 30 s after their timeout: %v", running, podReason(p))
		}
	}
	if open, err := x.ProbePorts(ctx, id, []int{8080}); err != nil || len(open) != 1 {
		t.Errorf("the image under test after the scripts: %v, %v; want it still serving", open, err)
	}
}

func TestReap(t *testing.T) {
	x, img := webExecutor(t, "reaped")
	ctx := testCtx(t, 25)
	other := pipeline.WithOwner(ctx, pipeline.Owner{Instance: "kubetest", Build: 26})
	for _, c := range []context.Context{ctx, ctx, other} {
		if _, err := x.StartContainer(c, pipeline.ContainerSpec{Image: img, Cmd: []string{"sleep", "1000"}}); err != nil {
			t.Fatal(err)
		}
	}
	owner := pipeline.OwnerOf(ctx).Labels()
	got, err := x.Reap(context.Background(), owner)
	if err != nil || got.Containers != 2 {
		t.Errorf("Reap: %+v, %v; want the build's 2 containers removed", got, err)
	}
	if again, err := x.Reap(context.Background(), owner); err != nil || again.Containers != 0 {
		t.Errorf("second Reap: %+v, %v; want nothing left", again, err)
	}
	if left := podsOf(t, x, "container"); len(left) != 1 {
		t.Errorf("pods left: %v; want the other build's one", left)
	}
	if n, err := x.RemoveContainersOf(ctx, img); err != nil || n != 1 {
		t.Errorf("RemoveContainersOf(%s) = %d, %v; want the other build's container", img, n, err)
	}
}

func TestContainerOutputSplitsStderr(t *testing.T) {
	x, img := webExecutor(t, "split")
	ctx := testCtx(t, 27)
	for _, tc := range []struct {
		cmd            []string
		code           int
		stdout, stderr string
	}{
		{[]string{"sh", "-c", "echo out; echo err >&2; echo $$ >&2; exit 2"}, 2, "out\n", "err\n1\n"},
		{[]string{"cat", "/www/index.html"}, 0, "split\n", ""},
		{[]string{"nosuchcommand", "x"}, 127, "", "nosuchcommand: executable file not found in $PATH\n"},
	} {
		id, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: img, Entrypoint: []string{}, Cmd: tc.cmd})
		if err != nil {
			t.Fatal(err)
		}
		defer x.RemoveContainer(context.Background(), id)
		var stdout, stderr bytes.Buffer
		if err := x.ContainerOutput(ctx, id, &stdout, &stderr, true); err != nil {
			t.Errorf("ContainerOutput: %v", err)
		}
		code, err := x.WaitContainer(ctx, id)
		if err != nil || code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("%q: exit %d, %v, stdout %q, stderr %q; want %d, %q, %q", tc.cmd, code, err, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}
