package engine

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// BusyboxPath is where the toolbox's busybox comes from: Debian's
// busybox-static.
const BusyboxPath = "/bin/busybox"

// ToolboxRepo is the repository of the toolbox image, the image sandboxed
// scripts run in when their project names none; its tag is a hash of the
// busybox it holds.
const ToolboxRepo = "hoist-toolbox"

// EnsureToolbox returns the reference of the toolbox image, a static busybox
// with a link per applet, a /tmp and a passwd naming the sandbox user,
// importing it into the engine when it is not there yet. No registry is
// asked. The image carries no owner labels: it is shared and kept.
func (e *Engine) EnsureToolbox(ctx context.Context) (string, error) {
	ref, rootfs, err := ToolboxImage(ctx)
	if err != nil {
		return "", err
	}
	if _, err := e.cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("looking for the toolbox image %s: %w", ref, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(rootfs(pw)) }()
	res, err := e.cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: []string{`ENV PATH=/bin`, `CMD ["sh"]`}})
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("importing the toolbox image %s: %w", ref, err)
	}
	defer res.Close()
	if _, err := io.Copy(io.Discard, res); err != nil {
		return "", fmt.Errorf("importing the toolbox image %s: %w", ref, err)
	}
	e.log.Debug("imported the toolbox image", "ref", ref)
	return ref, nil
}

// ToolboxImage returns the reference of the toolbox image and a function
// writing its root filesystem as a tar stream, for EnsureToolbox and for
// placing the same image elsewhere (scripts/k3s.sh imports it into a k3s
// node's containerd). The image's config is ENV PATH=/bin and CMD ["sh"].
func ToolboxImage(ctx context.Context) (ref string, rootfs func(io.Writer) error, err error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return "", nil, fmt.Errorf("making the toolbox image: %w (install Debian's busybox-static: apt-get install busybox-static)", err)
	}
	sum := sha256.Sum256(append([]byte(dockerStub), bb...))
	ref = ToolboxRepo + ":" + hex.EncodeToString(sum[:6])
	return ref, func(w io.Writer) error {
		out, err := exec.CommandContext(ctx, BusyboxPath, "--list").Output()
		if err != nil {
			return fmt.Errorf("making the toolbox image: listing busybox's applets: %w", err)
		}
		return writeToolbox(w, bb, strings.Fields(string(out)))
	}, nil
}

// dockerStub is the toolbox's docker: sandboxed scripts have no engine, and
// one that calls docker learns why and what to do about it.
const dockerStub = `#!/bin/sh
echo "docker: this project is not trusted, so its scripts run sandboxed, without a container engine." >&2
echo "docker: the image under test already runs beside a test-script: reach it on \$TARGET_HOST (localhost) and its EXPOSEd ports." >&2
p=${HOIST_PROJECT%:*}
echo "docker: to give this project's scripts the engine (root-equivalent on the Hoist host), a Hoist admin runs: hoist project trust ${p:-NS/NAME}" >&2
echo "docker: (or serves its index with --trust-index; hoist run trusts its own index unless --sandbox)." >&2
exit 127
`

// writeToolbox writes the toolbox's root filesystem as a tar stream.
func writeToolbox(w io.Writer, busybox []byte, applets []string) error {
	tw := tar.NewWriter(w)
	dirs := []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"etc/", 0o755}, {"tmp/", 0o1777}, {"workspace/", 0o755}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode}); err != nil {
			return err
		}
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file("bin/busybox", 0o755, busybox); err != nil {
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/tmp:/bin/sh\nhoist:x:%d:%d:hoist sandbox:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", SandboxUID, SandboxUID)
	group := fmt.Sprintf("root:x:0:\nhoist:x:%d:\nnogroup:x:65534:\n", SandboxUID)
	if err := file("bin/docker", 0o755, []byte(dockerStub)); err != nil {
		return err
	}
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || a == "docker" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}); err != nil {
			return err
		}
	}
	return tw.Close()
}
