package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// sandboxRun runs script (the file "s.sh" in a fresh workspace, holding
// files) in a Sandbox with lim, and returns the workspace, the log and the
// error. Every container it made is gone afterwards.
func sandboxRun(t *testing.T, script string, files map[string]string, lim pipeline.Limits, timeout time.Duration) (string, string, error) {
	t.Helper()
	return sandboxRunIn(t, newEngine(t), "", script, files, lim, timeout)
}

// sandboxRunIn is sandboxRun on e, in the network namespace of join ("":
// its own).
func sandboxRunIn(t *testing.T, e *Engine, join, script string, files map[string]string, lim pipeline.Limits, timeout time.Duration) (string, string, error) {
	t.Helper()
	img, err := e.EnsureToolbox(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	writeFiles(t, ws, files)
	if err := os.WriteFile(filepath.Join(ws, "s.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	owner := pipeline.Owner{Instance: uniqueID(t), Build: 1}
	ctx := pipeline.WithOwner(t.Context(), owner)
	var log bytes.Buffer
	err = (&Sandbox{Engine: e, Image: img, Limits: lim}).RunScript(ctx, pipeline.ScriptSpec{
		Script: filepath.Join(ws, "s.sh"), Dir: ws, Workspace: ws, Timeout: timeout,
		Env: []string{"HOIST_PROJECT=ns/app:1"}, JoinContainer: join,
	}, &log)
	filter := make(client.Filters).Add("label", pipeline.LabelInstance+"="+owner.Instance)
	cs, lerr := e.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: filter})
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(cs.Items) != 0 {
		t.Errorf("%d sandbox containers left after RunScript", len(cs.Items))
	}
	return ws, log.String(), err
}

// A sandboxed script runs as a non-root user without capabilities, in the
// checkout, and what it writes there is what the build sees.
func TestSandboxWritesTheCheckoutAsNonRoot(t *testing.T) {
	ws, log, err := sandboxRun(t, "#!/bin/sh\nset -e\nid -u\ngrep CapEff /proc/self/status\npwd\necho $HOIST_PROJECT\necho built > out/artifact\n",
		map[string]string{"out/.keep": ""}, pipeline.Limits{}, time.Minute)
	if err != nil {
		t.Fatalf("RunScript: %v\n%s", err, log)
	}
	uid := "10001"
	if os.Getuid() != 0 {
		uid = "" // Hoist's own user, whatever it is
	}
	for _, want := range []string{uid, "CapEff:\t0000000000000000", "/workspace", "ns/app:1"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "\n0\n") || strings.HasPrefix(log, "0\n") {
		t.Errorf("the script ran as root:\n%s", log)
	}
	b, err := os.ReadFile(filepath.Join(ws, "out", "artifact"))
	if err != nil || string(b) != "built\n" {
		t.Errorf("out/artifact = %q, %v; want what the script wrote", b, err)
	}
}

// A hostile script reads nothing of Hoist's environment or of the host's
// files, reaches no engine socket, cannot write outside the checkout and
// has no root to regain.
func TestSandboxConfinesAHostileScript(t *testing.T) {
	t.Setenv("HOIST_WEBHOOK_SECRET", "hostile-test-secret-1")
	secretFile := filepath.Join(t.TempDir(), "hoist.db")
	if err := os.WriteFile(secretFile, []byte("hostile-test-secret-2"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
cat /proc/*/environ 2>/dev/null | tr '\0' '\n' | grep -c HOIST_WEBHOOK || echo "environ: no secret"
cat ` + secretFile + ` || echo "host file: unreadable"
if [ -e /var/run/docker.sock ] || [ -e /run/docker.sock ]; then echo "engine socket: present"; else echo "engine socket: absent"; fi
touch /bin/owned || echo "root filesystem: read-only"
su -c id root </dev/null || echo "su: refused"
docker ps
echo done
`
	_, log, err := sandboxRun(t, script, nil, pipeline.Limits{}, time.Minute)
	if err != nil {
		t.Fatalf("RunScript: %v\n%s", err, log)
	}
	for _, leak := range []string{"hostile-test-secret-1", "hostile-test-secret-2", "uid=0"} {
		if strings.Contains(log, leak) {
			t.Errorf("the script got %q:\n%s", leak, log)
		}
	}
	for _, want := range []string{"environ: no secret", "host file: unreadable", "engine socket: absent", "root filesystem: read-only", "su: refused", "docker: this project is not trusted", "a Hoist admin runs: hoist project trust ns/app\n", "--trust-index", "done"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// A fork bomb meets the process limit, and the script still ends.
func TestSandboxLimitsProcesses(t *testing.T) {
	script := "#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do\n  sleep 60 &\n  i=$((i+1))\ndone\necho started $i\n"
	_, log, err := sandboxRun(t, script, nil, pipeline.Limits{PIDs: 32}, 30*time.Second)
	if err == nil || strings.Contains(log, "started 200") && !strings.Contains(log, "fork") {
		t.Fatalf("200 processes started under a limit of 32: err %v\n%s", err, log)
	}
	if !strings.Contains(log, "fork") {
		t.Errorf("log does not say that forking failed:\n%s", log)
	}
}

// A script that allocates more memory than its limit is killed, and the
// error says why.
func TestSandboxLimitsMemory(t *testing.T) {
	script := "#!/bin/sh\nx=$(head -c 2147483648 /dev/zero | tr '\\0' a)\necho allocated ${#x}\n"
	_, log, err := sandboxRun(t, script, nil, pipeline.Limits{Memory: 64 << 20}, 2*time.Minute)
	if err == nil || strings.Contains(log, "allocated") {
		t.Fatalf("2 GiB allocated under a 64 MiB limit: err %v\n%s", err, log)
	}
	if !strings.Contains(err.Error(), "more than its 64 MiB of memory") {
		t.Errorf("err = %v, want it to name the memory limit", err)
	}
}

// A script that outlives its timeout is killed and its container removed.
func TestSandboxTimesOut(t *testing.T) {
	start := time.Now()
	_, log, err := sandboxRun(t, "#!/bin/sh\necho sleeping\nsleep 100\n", nil, pipeline.Limits{}, 3*time.Second)
	if err == nil || !strings.Contains(err.Error(), "s.sh timed out after 3s") {
		t.Fatalf("err = %v, want a timeout\n%s", err, log)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("RunScript took %s after a 3s timeout", d)
	}
}

// A script that joins a container's network reaches it on localhost, and
// nothing of the container's filesystem.
func TestSandboxJoinsTheNetworkOfAContainer(t *testing.T) {
	e := newEngine(t)
	id := uniqueID(t)
	img := buildImage(t, e, id, id+":test", map[string]string{"www/index.html": "hello from the image under test\n"},
		"COPY www /www", `CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]`)
	cid := start(t, e, id, pipeline.ContainerSpec{Image: img})
	script := "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://localhost:8080/ && exit 0; sleep 1; done; exit 1\n"
	_, log, err := sandboxRunIn(t, e, cid, script, nil, pipeline.Limits{}, time.Minute)
	if err != nil {
		t.Fatalf("RunScript: %v\n%s", err, log)
	}
	if !strings.Contains(log, "hello from the image under test") {
		t.Errorf("log lacks the page the container serves:\n%s", log)
	}
}

// A RUN step that allocates more than the engine's memory limit fails the
// build.
func TestBuildStepsAreLimited(t *testing.T) {
	host := newEngine(t) // skips without an engine
	e, err := New(t.Context(), Options{Host: host.cli.DaemonHost(), Limits: pipeline.Limits{Memory: 64 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	id := uniqueID(t)
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id,
		`RUN x=$(head -c 536870912 /dev/zero | tr '\0' a); echo "allocated ${#x}"`)})
	var log bytes.Buffer
	_, err = e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{id + ":test"}}, &log)
	if err == nil || strings.Contains(log.String(), "allocated 536870912") {
		t.Fatalf("Build allocated 512 MiB under a 64 MiB limit: %v\n%s", err, log.String())
	}
}

// A workspace reached through a symlink (a data folder on another disk)
// holds the paths SafeJoin resolved in it; one leading out does not.
func TestInWorkspaceThroughSymlink(t *testing.T) {
	real := t.TempDir()
	if err := os.MkdirAll(filepath.Join(real, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, "app", "build.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	got, err := inWorkspace(link, filepath.Join(real, "app", "build.sh"))
	if err != nil || got != WorkspaceMount+"/app/build.sh" {
		t.Errorf("inWorkspace = %q, %v; want %s/app/build.sh", got, err, WorkspaceMount)
	}
	if _, err := inWorkspace(link, t.TempDir()); err == nil {
		t.Error("a path outside the workspace was taken")
	}
}
