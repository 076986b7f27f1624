// Package executortest is the behaviour every pipeline.Executor must have,
// as storetest is for stores: an implementation's tests call Run with a
// way to make one. It needs nothing but the Executor: the images it builds
// are made by a sandboxed script from the sandbox's own busybox, in a
// workspace, as an untrusted project's prebuild would.
package executortest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// makeImage is the prebuild script the suite runs sandboxed: it makes a
// root filesystem from the sandbox's busybox and a page holding $TOKEN.
const makeImage = `#!/bin/sh
set -eu
echo "uid=$(id -u)"
mkdir -p rootfs/bin rootfs/www rootfs/tmp
cp /bin/busybox rootfs/bin/busybox
for a in sh cat httpd sleep true; do ln -s busybox "rootfs/bin/$a"; done
echo "$TOKEN" > rootfs/www/index.html
`

const dockerfile = `FROM scratch
COPY rootfs/ /
ENV PATH=/bin
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
`

// Run runs the suite against executors newExecutor makes. registry is
// the host:port of a registry the executor pushes to and pulls from
// without credentials.
func Run(t *testing.T, newExecutor func(t *testing.T) pipeline.Executor, registry string) {
	x := newExecutor(t)
	token := "executortest-" + random(t)
	owner := pipeline.Owner{Instance: token, Build: 1}
	ctx := pipeline.WithOwner(t.Context(), owner)
	t.Cleanup(func() { _, _ = x.Reap(context.Background(), owner.Labels()) })
	ws := t.TempDir()
	write(t, filepath.Join(ws, "make.sh"), makeImage, 0o755)
	write(t, filepath.Join(ws, "Dockerfile"), dockerfile, 0o644)
	script := func(t *testing.T, body string) pipeline.ScriptSpec {
		p := filepath.Join(ws, "s-"+random(t)+".sh")
		write(t, p, body, 0o755)
		return pipeline.ScriptSpec{Script: p, Dir: ws, Workspace: ws, Timeout: 2 * time.Minute, Env: []string{"TOKEN=" + token}}
	}
	tag := token + ":test"

	t.Run("SandboxWritesTheWorkspaceAsNonRoot", func(t *testing.T) {
		var log bytes.Buffer
		spec := pipeline.ScriptSpec{Script: filepath.Join(ws, "make.sh"), Dir: ws, Workspace: ws, Timeout: 2 * time.Minute, Env: []string{"TOKEN=" + token}}
		if err := x.Sandbox().RunScript(ctx, spec, &log); err != nil {
			t.Fatalf("RunScript: %v\n%s", err, log.String())
		}
		if strings.Contains(log.String(), "uid=0\n") {
			t.Errorf("the sandboxed script ran as root:\n%s", log.String())
		}
		if b, err := os.ReadFile(filepath.Join(ws, "rootfs", "www", "index.html")); err != nil || string(b) != token+"\n" {
			t.Errorf("the page the script wrote: %q, %v", b, err)
		}
	})
	t.Run("SandboxHasNoEngineAndReportsExitStatus", func(t *testing.T) {
		var log bytes.Buffer
		err := x.Sandbox().RunScript(ctx, script(t, "#!/bin/sh\n[ -e /var/run/docker.sock ] && echo ENGINE\ndocker ps && echo DOCKER\nexit 3\n"), &log)
		if err == nil || !strings.Contains(err.Error(), "exited with status 3") {
			t.Errorf("err = %v, want it to say the script exited with status 3", err)
		}
		if strings.Contains(log.String(), "ENGINE") || strings.Contains(log.String(), "DOCKER") {
			t.Errorf("the sandboxed script reached an engine:\n%s", log.String())
		}
	})

	var built bool
	outer := t
	t.Run("BuildsTheWorkspaceAndRunsTheImage", func(t *testing.T) {
		var log bytes.Buffer
		id, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile", Tags: []string{tag}}, &log)
		if err != nil {
			t.Fatalf("Build: %v\n%s", err, log.String())
		}
		built = true
		outer.Cleanup(func() { _ = x.RemoveImage(context.Background(), id) })
		log.Reset()
		res, err := x.Run(ctx, pipeline.RunSpec{Image: tag, Cmd: []string{"cat", "/www/index.html"}}, &log)
		if err != nil || !res.Exited || res.ExitCode != 0 || !strings.Contains(log.String(), token) {
			t.Errorf("Run: %+v, %v, output %q; want exit 0 printing the page", res, err, log.String())
		}
		cfg, err := x.InspectImage(ctx, tag)
		if err != nil || len(cfg.ExposedPorts) != 1 || cfg.ExposedPorts[0] != "8080/tcp" {
			t.Errorf("InspectImage: %+v, %v; want 8080/tcp exposed", cfg, err)
		}
	})
	if !built {
		return
	}
	t.Run("BuildsOnTheParentFromPins", func(t *testing.T) {
		// The parent is pushed; a decoy holds its FROM name where a local
		// store would look; the pin wins.
		repo := registry + "/executortest/" + token
		var log bytes.Buffer
		// Images are removed by name: the parent is the image under test
		// under another name.
		if _, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile", Tags: []string{repo + ":parent"}}, &log); err != nil {
			t.Fatalf("Build: %v\n%s", err, log.String())
		}
		defer func() { _ = x.RemoveImage(context.Background(), repo+":parent") }()
		digest, err := x.Push(ctx, repo+":parent", &log)
		if err != nil {
			t.Fatalf("Push: %v\n%s", err, log.String())
		}
		name := token + "/parent:pinned"
		write(t, filepath.Join(ws, "decoy.html"), "decoy\n", 0o644)
		write(t, filepath.Join(ws, "Dockerfile.decoy"), "FROM "+tag+"\nCOPY decoy.html /www/index.html\n", 0o644)
		decoy, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile.decoy", Tags: []string{name}}, &log)
		if err != nil {
			t.Fatalf("Build of the decoy: %v\n%s", err, log.String())
		}
		defer func() { _ = x.RemoveImage(context.Background(), decoy) }()
		defer func() { _ = x.RemoveImage(context.Background(), name) }()
		write(t, filepath.Join(ws, "Dockerfile.child"), "FROM "+name+"\nLABEL io.hoist.executortest=child\n", 0o644)
		child := token + ":child"
		_, err = x.Build(ctx, pipeline.BuildSpec{
			Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile.child", Tags: []string{child},
			From: map[string]string{name: repo + "@" + digest},
		}, &log)
		if err != nil {
			t.Fatalf("Build FROM %s pinned to %s: %v\n%s", name, digest, err, log.String())
		}
		defer func() { _ = x.RemoveImage(context.Background(), child) }()
		log.Reset()
		res, err := x.Run(ctx, pipeline.RunSpec{Image: child, Cmd: []string{"cat", "/www/index.html"}}, &log)
		if err != nil || !res.Exited || res.ExitCode != 0 || strings.TrimSpace(log.String()) != token {
			t.Errorf("Run of the child: %+v, %v, output %q; want the pinned parent's page %q", res, err, log.String(), token)
		}
	})
	t.Run("RefusesAContextOutsideTheWorkspace", func(t *testing.T) {
		outside := t.TempDir()
		write(t, filepath.Join(outside, "Dockerfile"), dockerfile, 0o644)
		for _, spec := range []pipeline.BuildSpec{
			{Workspace: ws, ContextDir: outside, Dockerfile: "Dockerfile"},
			{Workspace: ws, ContextDir: ws, Dockerfile: relTo(t, ws, filepath.Join(outside, "Dockerfile"))},
		} {
			_, err := x.Build(ctx, spec, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "outside the build's workspace") {
				t.Errorf("Build of %+v: %v; want it refused as outside the workspace", spec, err)
			}
		}
	})
	t.Run("SandboxReachesTheImageUnderTestOnLocalhost", func(t *testing.T) {
		id, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: tag})
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		defer func() { _ = x.RemoveContainer(context.Background(), id) }()
		spec := script(t, "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://localhost:8080/ && exit 0; sleep 1; done; exit 1\n")
		spec.JoinContainer = id
		var log bytes.Buffer
		if err := x.Sandbox().RunScript(ctx, spec, &log); err != nil || !strings.Contains(log.String(), token) {
			t.Errorf("RunScript beside the container: %v\n%s", err, log.String())
		}
	})
	t.Run("ProbesPortsBesideTheContainer", func(t *testing.T) {
		id, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: tag})
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		defer func() { _ = x.RemoveContainer(context.Background(), id) }()
		// httpd listens on 8080 soon after the start; nothing on 9090.
		var open []int
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
			if open, err = x.ProbePorts(ctx, id, []int{9090, 8080}); err != nil || len(open) > 0 {
				break
			}
		}
		if err != nil || len(open) != 1 || open[0] != 8080 {
			t.Errorf("ProbePorts(9090, 8080) = %v, %v; want [8080]", open, err)
		}
		// A service listening on localhost only is not reachable by the
		// container's neighbours, and the probe says so.
		local, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: tag, Cmd: []string{"httpd", "-f", "-p", "127.0.0.1:8081", "-h", "/www"}})
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		defer func() { _ = x.RemoveContainer(context.Background(), local) }()
		time.Sleep(time.Second)
		if open, err := x.ProbePorts(ctx, local, []int{8081}); err != nil || len(open) != 0 {
			t.Errorf("ProbePorts of a port bound to 127.0.0.1 = %v, %v; want none open", open, err)
		}
		// A container that has exited cannot be probed.
		gone, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: tag, Cmd: []string{"true"}})
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		defer func() { _ = x.RemoveContainer(context.Background(), gone) }()
		if _, err := x.WaitContainer(ctx, gone); err != nil {
			t.Fatalf("WaitContainer: %v", err)
		}
		if open, err := x.ProbePorts(ctx, gone, []int{8080}); err == nil {
			t.Errorf("ProbePorts of an exited container = %v, nil; want an error", open)
		}
	})
	t.Run("ExecsBesideTheContainer", func(t *testing.T) {
		ex, ok := x.(pipeline.Execer)
		if !ok {
			t.Skip("this executor runs no command in a running container")
		}
		id, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: tag, Cmd: []string{"sleep", "300"}})
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		defer func() { _ = x.RemoveContainer(context.Background(), id) }()
		var out bytes.Buffer
		code, err := ex.Exec(ctx, id, []string{"sh", "-c", "cat /www/index.html; echo to-stderr >&2; exit 3"}, &out)
		if err != nil || code != 3 || !strings.Contains(out.String(), token) || !strings.Contains(out.String(), "to-stderr") {
			t.Errorf("Exec = %d, %v, output %q; want 3, the page and stderr", code, err, out.String())
		}
		gone, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: tag, Cmd: []string{"true"}})
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		defer func() { _ = x.RemoveContainer(context.Background(), gone) }()
		if _, err := x.WaitContainer(ctx, gone); err != nil {
			t.Fatalf("WaitContainer: %v", err)
		}
		if code, err := ex.Exec(ctx, gone, []string{"true"}, nil); err == nil {
			t.Errorf("Exec in an exited container = %d, nil; want an error", code)
		}
	})
	t.Run("ReapRemovesWhatTheOwnerLeft", func(t *testing.T) {
		if _, err := x.StartContainer(ctx, pipeline.ContainerSpec{Image: tag, Cmd: []string{"sleep", "1000"}}); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		got, err := x.Reap(context.Background(), owner.Labels())
		if err != nil || got.Containers < 1 {
			t.Errorf("Reap: %+v, %v; want the left container removed", got, err)
		}
		if again, err := x.Reap(context.Background(), owner.Labels()); err != nil || again.Containers != 0 {
			t.Errorf("second Reap: %+v, %v; want nothing left", again, err)
		}
	})
	t.Run("SandboxRunsInANamedImage", func(t *testing.T) {
		spec := script(t, "#!/bin/sh\ncat /www/index.html\n")
		spec.Image = tag // the built image, whose page the default image has not
		var log bytes.Buffer
		if err := x.Sandbox().RunScript(ctx, spec, &log); err != nil || !strings.Contains(log.String(), token) {
			t.Errorf("RunScript in %s: %v\n%s", tag, err, log.String())
		}
		spec.Image, spec.ImageFrom = "127.0.0.1:1/executortest/missing:1", "app/cccp.yml:2:17: prebuild-image"
		err := x.Sandbox().RunScript(ctx, spec, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), spec.ImageFrom+" "+spec.Image) {
			t.Errorf("RunScript in a missing image: %v; want an error starting %q", err, spec.ImageFrom+" "+spec.Image)
		}
	})
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// relTo is target relative to base, "/"-separated.
func relTo(t *testing.T, base, target string) string {
	t.Helper()
	rel, err := filepath.Rel(base, target)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

func random(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
