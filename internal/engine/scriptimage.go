package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/hoistci/hoist/internal/pipeline"
)

// EngineSocketMount is where a trusted project's script in its own image
// finds the engine's socket (ScriptSpec.EngineAccess); DOCKER_HOST says so.
const EngineSocketMount = "/var/run/docker.sock"

// scriptImage returns the image spec's script runs in: spec.Image, taken
// from the engine or else pulled; else s.Image; else the toolbox.
func (s *Sandbox) scriptImage(ctx context.Context, spec pipeline.ScriptSpec, log io.Writer) (string, error) {
	switch {
	case spec.Image != "":
		return spec.Image, s.Engine.ensureScriptImage(ctx, spec.Image, imageFrom(spec), log)
	case s.Image != "":
		return s.Image, nil
	}
	return s.Engine.EnsureToolbox(ctx)
}

// imageFrom is how errors about spec.Image start: where it was named.
func imageFrom(spec pipeline.ScriptSpec) string {
	if spec.ImageFrom != "" {
		return spec.ImageFrom
	}
	return "image"
}

// ensureScriptImage makes sure the engine has ref, pulling it when not.
// from names where ref was given ("app/cccp.yml:3:17: prebuild-image").
func (e *Engine) ensureScriptImage(ctx context.Context, ref, from string, log io.Writer) error {
	ok, err := e.ImageExists(ctx, ref)
	if err != nil {
		return fmt.Errorf("%s %s: %w", from, ref, err)
	}
	if ok {
		return nil
	}
	fmt.Fprintf(log, "pulling %s, which the engine does not have\n", ref)
	auth, err := e.registryAuth(ctx, ref)
	if err == nil {
		err = e.pull(ctx, ref, auth, log)
	}
	if err != nil {
		return fmt.Errorf("%s %s is not in the engine and pulling it failed (%v): build or load it on the engine, push it where the engine can pull it, or remove the key", from, ref, err)
	}
	return nil
}

// noShell reports whether err, from starting a script's container, says
// that its image has no /bin/sh.
func noShell(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "/bin/sh") &&
		(strings.Contains(msg, "no such file") || strings.Contains(msg, "not found"))
}

// giveEngine mounts the engine's socket into hc and sets DOCKER_HOST in
// env, with the socket's group added so that a non-root user may use it.
func (e *Engine) giveEngine(hc *container.HostConfig, env []string) ([]string, error) {
	host := e.cli.DaemonHost()
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil, fmt.Errorf("giving the script the engine needs the engine on a unix socket, and Hoist reaches it at %s; run the script on the host (remove the image key) or serve the engine on a socket", host)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		return nil, fmt.Errorf("giving the script the engine: %w", err)
	}
	if fi.Mode().Perm()&0o060 != 0o060 {
		// The script runs as SandboxUID with the socket's group: a socket
		// only its owner may use is out of its reach.
		return nil, fmt.Errorf("giving the script the engine: its socket %s admits only its owner (mode %04o); let its group read and write it (chmod 660 %s, as the engine's own socket units do)", sock, fi.Mode().Perm(), sock)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hc.GroupAdd = append(hc.GroupAdd, fmt.Sprint(st.Gid))
	}
	hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: sock, Target: EngineSocketMount})
	return append(env, "DOCKER_HOST=unix://"+EngineSocketMount), nil
}

// trustHint says how an untrusted project's scripts get the engine.
func trustHint(env []string) string {
	name := "NS/NAME"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOIST_PROJECT="); ok && v != "" {
			name, _, _ = strings.Cut(v, ":")
		}
	}
	return "to give this project's scripts the engine (root-equivalent on the Hoist host), a Hoist admin runs: hoist project trust " + name
}

// dockerCalls are what a shell, the toolbox's docker, or a docker client
// in the project's image prints when a script calls docker where there is
// no engine.
var dockerCalls = [][]byte{
	[]byte("docker: not found"), []byte("docker: command not found"),
	[]byte("docker: No such file or directory"), []byte("docker: this project is not trusted"),
	[]byte("Cannot connect to the Docker daemon"),
}

// dockerWatch passes a script's output on and notes whether it shows a
// call of docker that found none.
type dockerWatch struct {
	w    io.Writer
	mu   sync.Mutex
	tail []byte
	seen bool
}

func (d *dockerWatch) Write(p []byte) (int, error) {
	d.mu.Lock()
	if !d.seen {
		buf := append(d.tail, p...)
		for _, c := range dockerCalls {
			d.seen = d.seen || bytes.Contains(buf, c)
		}
		const keep = 64
		d.tail = append(d.tail[:0], buf[max(0, len(buf)-keep):]...)
	}
	d.mu.Unlock()
	return d.w.Write(p)
}

// called reports whether the output showed a call of docker.
func (d *dockerWatch) called() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen
}
