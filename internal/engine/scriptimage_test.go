package engine

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// runInImage runs script (s.sh in a fresh workspace) in a Sandbox on e,
// with spec changed by mod, and returns the log and the error. Every
// container it made is gone afterwards.
func runInImage(t *testing.T, e *Engine, script string, mod func(*pipeline.ScriptSpec)) (string, error) {
	t.Helper()
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "s.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	owner := pipeline.Owner{Instance: uniqueID(t), Build: 1}
	ctx := pipeline.WithOwner(t.Context(), owner)
	spec := pipeline.ScriptSpec{Script: filepath.Join(ws, "s.sh"), Dir: ws, Workspace: ws, Timeout: 2 * time.Minute,
		Env: []string{"HOIST_PROJECT=ns/app:1"}}
	mod(&spec)
	var log bytes.Buffer
	err := (&Sandbox{Engine: e}).RunScript(ctx, spec, &log)
	filter := make(client.Filters).Add("label", pipeline.LabelInstance+"="+owner.Instance)
	cs, lerr := e.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: filter})
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(cs.Items) != 0 {
		t.Errorf("%d sandbox containers left after RunScript", len(cs.Items))
	}
	return log.String(), err
}

// A script in the project's own image (prebuild-image) sees that image's
// files and PATH, with the sandbox's confinement: a non-root user, no
// capabilities, a read-only root, no engine socket; a call of docker
// fails with the way to get the engine.
func TestSandboxRunsInTheProjectsImage(t *testing.T) {
	e := newEngine(t)
	id := uniqueID(t)
	img := buildImage(t, e, id, id+":tools", map[string]string{"tools/only-here": "from the project's image\n"},
		"COPY tools /opt/tools", "ENV PATH=/opt/tools:/bin")
	script := `#!/bin/sh
cat /opt/tools/only-here
echo "uid=$(id -u)"
echo "path=$PATH"
grep CapEff /proc/self/status
if [ -e /var/run/docker.sock ] || [ -e /run/docker.sock ] || [ -n "$DOCKER_HOST" ]; then echo "engine: present"; else echo "engine: absent"; fi
touch /opt/tools/x || echo "root filesystem: read-only"
docker ps
`
	log, err := runInImage(t, e, script, func(s *pipeline.ScriptSpec) { s.Image, s.ImageFrom = img, "app/cccp.yml:2:17: prebuild-image" })
	uid := "uid=10001"
	if os.Getuid() != 0 {
		uid = "uid="
	}
	for _, want := range []string{"from the project's image", uid, "path=/opt/tools:/bin", "CapEff:\t0000000000000000", "engine: absent", "root filesystem: read-only", "docker: not found"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	want := "s.sh exited with status 127; it called docker, which scripts of a project Hoist does not trust do not get: " +
		"to give this project's scripts the engine (root-equivalent on the Hoist host), a Hoist admin runs: hoist project trust ns/app"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// An image the engine does not have and cannot pull fails the script with
// where it was named; one without /bin/sh says so.
func TestSandboxImageErrors(t *testing.T) {
	e := newEngine(t)
	_, err := runInImage(t, e, "#!/bin/sh\necho ran\n", func(s *pipeline.ScriptSpec) {
		s.Image, s.ImageFrom = "127.0.0.1:1/hoist/missing:1", "app/cccp.yml:3:13: test-image"
	})
	if err == nil || !strings.HasPrefix(err.Error(), "app/cccp.yml:3:13: test-image 127.0.0.1:1/hoist/missing:1 is not in the engine and pulling it failed (") ||
		!strings.Contains(err.Error(), "push it where the engine can pull it, or remove the key") {
		t.Errorf("err = %v, want the image, where it was named and what to do", err)
	}

	id := uniqueID(t)
	dir := newContext(t, e, id, map[string]string{"Dockerfile": "FROM scratch\nLABEL " + testLabel + "=" + id + "\nCOPY Dockerfile /Dockerfile\n"})
	var blog bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{id + ":noshell"}}, &blog); err != nil {
		t.Fatalf("Build: %v\n%s", err, blog.String())
	}
	_, err = runInImage(t, e, "#!/bin/sh\necho ran\n", func(s *pipeline.ScriptSpec) { s.Image = id + ":noshell" })
	if want := "s.sh: " + id + ":noshell has no /bin/sh, which runs the script: name an image with a POSIX shell"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// engineProbe is a static program that asks the engine at DOCKER_HOST
// (a unix socket) for its version over plain HTTP, as a docker client
// would.
const engineProbe = `package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	sock, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if !ok {
		fmt.Println("DOCKER_HOST is not a unix socket:", os.Getenv("DOCKER_HOST"))
		os.Exit(2)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	res, err := c.Get("http://engine/version")
	if err != nil {
		fmt.Println("engine:", err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(res.Body)
	fmt.Printf("engine answered %d: %s\n", res.StatusCode, b)
}
`

// buildProbe compiles engineProbe into dir/probe, statically.
func buildProbe(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(src, []byte(engineProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "probe"), src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the engine probe: %v\n%s", err, out)
	}
}

// A trusted project's script in its own image gets the engine: the socket
// mounted, DOCKER_HOST set, and the engine answers on it, still as a
// non-root user.
func TestSandboxGivesTheEngineWhenAsked(t *testing.T) {
	e := newEngine(t)
	if !strings.HasPrefix(e.cli.DaemonHost(), "unix://") {
		t.Skipf("the engine is at %s, not on a unix socket", e.cli.DaemonHost())
	}
	id := uniqueID(t)
	files := map[string]string{}
	dir := t.TempDir()
	buildProbe(t, dir)
	probe, err := os.ReadFile(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	files["probe/probe"] = string(probe)
	img := buildImage(t, e, id, id+":client", files, "COPY probe /usr/local/bin", "RUN chmod 755 /usr/local/bin/probe")
	script := "#!/bin/sh\nset -e\necho \"uid=$(id -u) DOCKER_HOST=$DOCKER_HOST\"\nls -l /var/run/docker.sock\nprobe\n"
	log, err := runInImage(t, e, script, func(s *pipeline.ScriptSpec) { s.Image, s.EngineAccess = img, true })
	if err != nil {
		t.Fatalf("RunScript: %v\n%s", err, log)
	}
	uid := "uid=10001 "
	if os.Getuid() != 0 {
		uid = "uid="
	}
	for _, want := range []string{uid, "DOCKER_HOST=unix:///var/run/docker.sock", "engine answered 200: ", `"ApiVersion":`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}
