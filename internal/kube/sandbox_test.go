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

// scriptSpec writes body as a script into ws and says how to run it.
func scriptSpec(t *testing.T, ws, body string) pipeline.ScriptSpec {
	t.Helper()
	p := filepath.Join(ws, "test-"+strings.ReplaceAll(t.Name(), "/", "-")+".sh")
	mustWrite(t, p, body, 0o755)
	return pipeline.ScriptSpec{Script: p, Dir: ws, Workspace: ws, Timeout: 3 * time.Minute, Env: []string{"GREETING=hello"}}
}

func TestSandboxCopiesTheWorkspaceBack(t *testing.T) {
	x := newTestExecutor(t, "127.0.0.1:1")
	ctx := testCtx(t, 11)
	ws, outside := t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(ws, "in", "data.txt"), "from the host\n", 0o644)
	mustWrite(t, filepath.Join(ws, "stale.txt"), "deleted by the script\n", 0o644)
	// A link out of the workspace, as an earlier script may have left:
	// the script replaces it with a folder and writes in it.
	if err := os.Symlink(outside, filepath.Join(ws, "evil")); err != nil {
		t.Fatal(err)
	}
	spec := scriptSpec(t, ws, `#!/bin/sh
set -eu
echo "uid=$(id -u) $GREETING"
cat in/data.txt > out.txt
echo "$HOME" >> out.txt
rm stale.txt
rm evil && mkdir evil && echo pwned > evil/pwned
ln -s /etc etc-link
mkdir -p deep/er && echo deep > deep/er/file
`)
	var log bytes.Buffer
	if err := x.Sandbox().RunScript(ctx, spec, &log); err != nil {
		t.Fatalf("RunScript: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "uid=1000 hello\n") {
		t.Errorf("the script's output: %q; want it run as uid 1000 with its environment", log.String())
	}
	if b, err := os.ReadFile(filepath.Join(ws, "out.txt")); err != nil || string(b) != "from the host\n/tmp\n" {
		t.Errorf("out.txt = %q, %v; want what the script wrote", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "deep", "er", "file")); err != nil || string(b) != "deep\n" {
		t.Errorf("deep/er/file = %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(ws, "stale.txt")); !os.IsNotExist(err) {
		t.Errorf("stale.txt, which the script deleted: %v; want it gone", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "pwned")); err == nil {
		t.Errorf("the script wrote outside the workspace through the link it replaced")
	}
	if b, err := os.ReadFile(filepath.Join(ws, "evil", "pwned")); err != nil || string(b) != "pwned\n" {
		t.Errorf("evil/pwned = %q, %v; want the file in the workspace's folder", b, err)
	}
	if l, err := os.Readlink(filepath.Join(ws, "etc-link")); err != nil || l != "/etc" {
		t.Errorf("etc-link -> %q, %v; want the link as the script made it", l, err)
	}
	if got := podsOf(t, x, "script"); len(got) != 0 {
		t.Errorf("pods left: %v", got)
	}
}

func TestSandboxExitStatusAndCancel(t *testing.T) {
	x := newTestExecutor(t, "127.0.0.1:1")
	ctx := testCtx(t, 12)
	ws := t.TempDir()
	err := x.Sandbox().RunScript(ctx, scriptSpec(t, ws, "#!/bin/sh\ndocker ps\nexit 3\n"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), "called docker") {
		t.Errorf("err = %v; want exited with status 3, having called docker", err)
	}

	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		log := newLockedBuffer()
		done := make(chan error, 1)
		go func() {
			done <- x.Sandbox().RunScript(cctx, scriptSpec(t, ws, "#!/bin/sh\necho started\nsleep 600\n"), log)
		}()
		for end := time.Now().Add(2 * time.Minute); !strings.Contains(log.String(), "started"); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("the script did not start: %q", log.String())
			}
		}
		names := podsOf(t, x, "script")
		if len(names) != 1 {
			t.Fatalf("script pods %v; want one running", names)
		}
		// Confined: non-root, read-only, limited, no token, a deadline.
		p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, names[0], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := p.Spec.Containers[1]
		if sc := c.SecurityContext; c.Name != "script" || *sc.RunAsUser != SandboxUID || !*sc.ReadOnlyRootFilesystem ||
			*sc.AllowPrivilegeEscalation || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("the script's container %s: %+v", c.Name, sc)
		}
		if got, want := c.Resources.Limits.Memory().Value(), x.limits(ctx).Memory; got != want {
			t.Errorf("the script's memory limit %d; want %d", got, want)
		}
		if *p.Spec.AutomountServiceAccountToken || p.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("the script's pod: token %v, deadline %v; want no token and a deadline", *p.Spec.AutomountServiceAccountToken, p.Spec.ActiveDeadlineSeconds)
		}
		cancel()
		start := time.Now()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "stopped") {
				t.Errorf("err = %v; want it stopped", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("RunScript did not return within 10 s of the cancel")
		}
		// 5 s, with room for a loaded machine: the delete is one API call.
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("RunScript returned %v after the cancel", d)
		}
		if got := podsOf(t, x, "script"); len(got) != 0 {
			t.Errorf("pods left after the cancel: %v", got)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		spec := scriptSpec(t, ws, "#!/bin/sh\nsleep 600\n")
		spec.Timeout = 20 * time.Second
		err := x.Sandbox().RunScript(ctx, spec, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "timed out after 20s") {
			t.Errorf("err = %v; want it timed out after 20s", err)
		}
		if got := podsOf(t, x, "script"); len(got) != 0 {
			t.Errorf("pods left after the timeout: %v", got)
		}
	})

	t.Run("no toolbox", func(t *testing.T) {
		y := *x
		y.opts.Toolbox = "hoist-toolbox:not-on-the-node"
		tctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		err := y.Sandbox().RunScript(tctx, scriptSpec(t, ws, "#!/bin/sh\ntrue\n"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "ErrImageNeverPull") {
			t.Errorf("err = %v; want the toolbox's image missing from the node said", err)
		}
	})

	t.Run("engine", func(t *testing.T) {
		spec := scriptSpec(t, ws, "#!/bin/sh\ntrue\n")
		spec.Image, spec.EngineAccess = "x:1", true
		if err := x.Sandbox().RunScript(ctx, spec, io.Discard); err == nil || !strings.Contains(err.Error(), "no container engine") {
			t.Errorf("err = %v; want EngineAccess refused", err)
		}
	})
}

func TestSandboxRunsInANamedImage(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ctx := testCtx(t, 13)
	pushWebImage(t, reg+"/hoist-local/page:1", "the named image's page")
	ws := t.TempDir()
	spec := scriptSpec(t, ws, "#!/bin/sh\ncat /www/index.html\n")
	spec.Image = "page:1" // a local name: the registry's hoist-local/page:1
	var log bytes.Buffer
	if err := x.Sandbox().RunScript(ctx, spec, &log); err != nil || !strings.Contains(log.String(), "the named image's page") {
		t.Errorf("RunScript in %s: %v\n%s", spec.Image, err, log.String())
	}
	spec.Image, spec.ImageFrom = "127.0.0.1:1/kubetest/missing:1", "app/cccp.yml:2:17: prebuild-image"
	err := x.Sandbox().RunScript(ctx, spec, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), spec.ImageFrom+" "+spec.Image) {
		t.Errorf("RunScript in a missing image: %v; want an error starting %q", err, spec.ImageFrom+" "+spec.Image)
	}
}
