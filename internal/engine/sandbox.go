package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// SandboxUID is the user sandboxed scripts run as when Hoist runs as root;
// otherwise they run as Hoist's own user, who owns the checkout.
const SandboxUID = 10001

// WorkspaceMount is where a sandboxed script sees its checkout.
const WorkspaceMount = "/workspace"

// DefaultLimits bound a sandboxed script when the Sandbox names none: 1 GiB
// of memory, one CPU, 256 processes.
var DefaultLimits = pipeline.Limits{Memory: 1 << 30, CPUs: 1, PIDs: 256}

// Sandbox runs scripts in confined containers (pipeline.ScriptRunner): the
// checkout (ScriptSpec.Workspace) mounted at /workspace and nothing else
// of the host, a non-root user, no capabilities, no-new-privileges, a
// read-only root filesystem with a /tmp in memory, the engine's default
// network (so downloads work) but no engine socket, CPU, memory and
// process limits, and none of Hoist's environment. What the script writes
// into the checkout stays there for the build.
type Sandbox struct {
	Engine *Engine
	Image  string // the image scripts run in; "": the toolbox (EnsureToolbox)
	// Limits are the sandbox's defaults; the limits ctx carries
	// (pipeline.WithLimits, a build's) win over them, and zero fields are
	// the engine's (Options.Limits).
	Limits pipeline.Limits
}

var _ pipeline.ScriptRunner = (*Sandbox)(nil)

var errSandboxTimedOut = errors.New("script timed out")

// RunScript runs spec in a container of s.Image and removes the container
// whatever happens; a cancel or spec.Timeout kills it at once.
func (s *Sandbox) RunScript(ctx context.Context, spec pipeline.ScriptSpec, log io.Writer) error {
	log = orDiscard(log)
	if spec.Workspace == "" {
		return errors.New("a sandboxed script needs a workspace")
	}
	name := displayName(spec.Script, spec.Dir)
	script, err := inWorkspace(spec.Workspace, spec.Script)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dir, err := inWorkspace(spec.Workspace, spec.Dir)
	if err != nil {
		return fmt.Errorf("%s: working folder: %w", name, err)
	}
	if info, err := os.Stat(spec.Script); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: not found", name)
	} else if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	} else if info.IsDir() {
		return fmt.Errorf("%s: is a folder, not a script", name)
	}
	user, err := ownWorkspace(spec.Workspace)
	if err != nil {
		return fmt.Errorf("%s: giving the checkout to the sandbox user: %w", name, err)
	}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, errSandboxTimedOut)
		defer cancel()
	}
	image, err := s.scriptImage(ctx, spec, log)
	if err != nil && spec.Image != "" {
		return err // it says where the image was named
	} else if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	lim := s.limits(ctx)
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}
	if spec.Image != "" {
		env = env[1:] // the project's own image keeps its PATH
	}
	env = append(env, spec.Env...)
	// The script runs directly when it is executable (its "#!" line picks
	// the interpreter), else with sh, as on the host.
	cmd := []string{"/bin/sh", "-c", `if [ -x "$0" ]; then exec "$0"; else exec sh "$0"; fi`, script}
	network := container.NetworkMode("")
	if spec.JoinContainer != "" {
		network = container.NetworkMode("container:" + spec.JoinContainer)
	}
	hc := container.HostConfig{
		NetworkMode:    network,
		Mounts:         []mount.Mount{{Type: mount.TypeBind, Source: spec.Workspace, Target: WorkspaceMount}},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": "rw,nosuid,nodev,size=64m"},
		Resources:      resources(lim),
	}
	if spec.EngineAccess {
		if env, err = s.Engine.giveEngine(&hc, env); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	id, err := s.Engine.createContainer(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      image,
			Cmd:        cmd,
			Env:        env,
			User:       user,
			WorkingDir: dir,
			Labels:     pipeline.WithLabels(ctx, nil),
		},
		HostConfig: &hc,
	})
	if err != nil {
		return fmt.Errorf("%s: creating its sandbox from %s: %w", name, image, err)
	}
	defer s.Engine.remove(id)
	watch := &dockerWatch{w: log}
	finish, err := s.Engine.attach(ctx, id, watch)
	if err != nil {
		// Podman refuses to attach to a container whose command cannot
		// run (an image without /bin/sh); starting it says why.
		if _, serr := s.Engine.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); serr != nil && noShell(serr) {
			return noShellError(name, image)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := s.Engine.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		finish(false)
		if noShell(err) {
			return noShellError(name, image)
		}
		return fmt.Errorf("%s: starting its sandbox: %w", name, err)
	}
	res, err := s.Engine.await(ctx, id, 0)
	finish(err == nil)
	switch {
	case errors.Is(context.Cause(ctx), errSandboxTimedOut):
		return fmt.Errorf("%s timed out after %s", name, spec.Timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s stopped: %w", name, context.Cause(ctx))
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	case res.ExitCode == 0:
		return nil
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if insp, err := s.Engine.cli.ContainerInspect(ictx, id, client.ContainerInspectOptions{}); err == nil &&
		insp.Container.State != nil && insp.Container.State.OOMKilled {
		return fmt.Errorf("%s was killed: it used more than its %s of memory", name, pipeline.SizeText(lim.Memory))
	}
	if res.ExitCode == 137 {
		// SIGKILL that Hoist did not send; Podman does not report
		// OOMKilled, and the memory limit is what kills a sandbox.
		return fmt.Errorf("%s was killed (signal 9): most likely it used more than its %s of memory", name, pipeline.SizeText(lim.Memory))
	}
	if !spec.EngineAccess && watch.called() {
		return fmt.Errorf("%s exited with status %d; it called docker, which scripts of a project Hoist does not trust do not get: %s", name, res.ExitCode, trustHint(spec.Env))
	}
	return fmt.Errorf("%s exited with status %d", name, res.ExitCode)
}

// noShellError says that the script name cannot run in image, which has no
// shell.
func noShellError(name, image string) error {
	return fmt.Errorf("%s: %s has no /bin/sh, which runs the script: name an image with a POSIX shell (busybox, alpine, debian…)", name, image)
}

// limits returns the limits ctx carries, with s.Limits, then the engine's,
// then DefaultLimits for their zero fields.
func (s *Sandbox) limits(ctx context.Context) pipeline.Limits {
	l := pipeline.LimitsOf(ctx).Or(s.Limits)
	if s.Engine != nil {
		l = l.Or(s.Engine.limits)
	}
	return l.Or(DefaultLimits)
}

// limitsFor returns the limits of a container started for ctx: those ctx
// carries (pipeline.WithLimits, a build's), with the engine's
// (Options.Limits) for their zero fields.
func (e *Engine) limitsFor(ctx context.Context) pipeline.Limits {
	return pipeline.LimitsOf(ctx).Or(e.limits)
}

// inWorkspace returns p (a host path inside ws) as the sandbox sees it.
func inWorkspace(ws, p string) (string, error) {
	rel, err := pipeline.WorkspaceRel(ws, p)
	if err != nil {
		return "", err
	}
	return path.Join(WorkspaceMount, rel), nil
}

// ownWorkspace returns the user a sandboxed script runs as ("uid:gid"):
// Hoist's own when it is not root, else SandboxUID, to whom the checkout
// is then given so that the script can write in it.
func ownWorkspace(ws string) (string, error) {
	if uid := os.Getuid(); uid != 0 {
		return fmt.Sprintf("%d:%d", uid, os.Getgid()), nil
	}
	err := filepath.WalkDir(ws, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, SandboxUID, SandboxUID)
	})
	return fmt.Sprintf("%d:%d", SandboxUID, SandboxUID), err
}

// displayName names the script relative to dir when it lies inside it.
func displayName(p, dir string) string {
	rel, err := filepath.Rel(dir, p)
	if dir == "" || err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return p
	}
	return filepath.ToSlash(rel)
}

var _ pipeline.Executor = (*Engine)(nil)

// Sandbox returns a Sandbox on e with the engine's limits and the toolbox image,
// so that *Engine is a pipeline.Executor.
func (e *Engine) Sandbox() pipeline.ScriptRunner { return &Sandbox{Engine: e} }
