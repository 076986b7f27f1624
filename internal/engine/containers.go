package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.Containers = (*Engine)(nil)

// StartContainer creates a container from spec and starts it in the
// background. When starting fails, the created container is removed.
func (e *Engine) StartContainer(ctx context.Context, spec pipeline.ContainerSpec) (string, error) {
	if spec.Privileged {
		return "", fmt.Errorf("starting container from %s: privileged containers are refused: Hoist runs other people's images confined", spec.Image)
	}
	if container.NetworkMode(spec.Network).IsHost() {
		return "", fmt.Errorf("starting container from %s: the host's network is refused", spec.Image)
	}
	hc := e.confined(ctx)
	opts := client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      spec.Image,
			Entrypoint: spec.Entrypoint, // nil keeps the image's, [] clears it
			Cmd:        spec.Cmd,
			Env:        spec.Env,
			User:       spec.User,
			WorkingDir: spec.WorkingDir,
			Labels:     pipeline.WithLabels(ctx, spec.Labels),
		},
		HostConfig: &hc,
	}
	if e.podman && spec.Entrypoint != nil && len(spec.Entrypoint) == 0 {
		// Podman reads an empty entrypoint as "the image's"; [""] clears it.
		opts.Config.Entrypoint = []string{""}
	}
	if spec.Network != "" {
		opts.HostConfig.NetworkMode = container.NetworkMode(spec.Network)
		opts.NetworkingConfig = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	} else if len(spec.Aliases) > 0 {
		return "", fmt.Errorf("starting container from %s: aliases %v need a network", spec.Image, spec.Aliases)
	}
	var h *holder // on the default network: a kept namespace (netns.go)
	if spec.Network == "" {
		if h = e.joinHolder(ctx); h != nil {
			opts.HostConfig.NetworkMode = container.NetworkMode("container:" + h.id)
		}
	}
	id, err := e.createContainer(ctx, opts)
	if err != nil {
		if h != nil {
			e.giveBack(h)
		}
		return "", fmt.Errorf("creating container from %s: %w", spec.Image, err)
	}
	if h != nil {
		e.claim(id, h)
	}
	e.log.Debug("created container", "id", id, "image", spec.Image, "network", spec.Network)
	if _, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		e.remove(id)
		e.release(id)
		return "", fmt.Errorf("starting container from %s: %w", spec.Image, err)
	}
	return id, nil
}

// WaitContainer waits until the container is not running and returns its
// exit code; it returns at once for a container that already exited.
func (e *Engine) WaitContainer(ctx context.Context, id string) (int, error) {
	wait := e.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return 0, fmt.Errorf("waiting for container %s: %s", short(id), r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-wait.Error:
		return 0, fmt.Errorf("waiting for container %s: %w", short(id), err)
	}
}

// ContainerOutput copies the container's stdout and stderr, demultiplexed,
// to stdout and stderr (nil discards). With follow it returns when the
// container exits or ctx ends.
func (e *Engine) ContainerOutput(ctx context.Context, id string, stdout, stderr io.Writer, follow bool) error {
	rc, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return fmt.Errorf("reading output of container %s: %w", short(id), err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(orDiscard(stdout), orDiscard(stderr), rc); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("reading output of container %s: %w", short(id), ctx.Err())
		}
		return fmt.Errorf("reading output of container %s: %w", short(id), err)
	}
	return nil
}

// RemoveContainer force-removes the container and its anonymous volumes; a
// container that does not exist is not an error.
func (e *Engine) RemoveContainer(ctx context.Context, id string) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", short(id), err)
	}
	e.release(id)
	return nil
}

// RemoveImage removes the image (an ID or a reference), untagging it from
// every repository; an image that does not exist is not an error.
func (e *Engine) RemoveImage(ctx context.Context, id string) error {
	_, err := e.cli.ImageRemove(ctx, id, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing image %s: %w", id, err)
	}
	return nil
}

// ReleaseImage removes image id, and the untagged images under it that
// nothing else descends from, unless something still needs it: a tag, a
// reference in another repository, a container, or an image built on it.
// Such an image is left as it is, and removed reports false; so is one
// that is gone already.
func (e *Engine) ReleaseImage(ctx context.Context, id string) (removed bool, err error) {
	insp, err := e.cli.ImageInspect(ctx, id)
	switch {
	case cerrdefs.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("inspecting image %s: %w", short(id), err)
	case len(insp.RepoTags) > 0:
		// By ID, the engine would take every tag of one repository
		// with it: somebody's "docker tag" too.
		return false, nil
	}
	_, err = e.cli.ImageRemove(ctx, id, client.ImageRemoveOptions{PruneChildren: true})
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err), cerrdefs.IsConflict(err):
		return false, nil
	}
	return false, fmt.Errorf("removing image %s: %w", short(id), err)
}

// CreateNetwork creates a bridge network of its own with labels (and
// ctx's owner labels) and returns its ID. A network made while ctx ended is
// removed again, never left unrecorded.
func (e *Engine) CreateNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	opts := client.NetworkCreateOptions{Driver: "bridge", Labels: pipeline.WithLabels(ctx, labels)}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	res, err := e.cli.NetworkCreate(cctx, name, opts)
	if err != nil {
		return "", fmt.Errorf("creating network %s: %w", name, err)
	}
	if ctx.Err() != nil {
		_, _ = e.cli.NetworkRemove(cctx, res.ID, client.NetworkRemoveOptions{})
		return "", fmt.Errorf("creating network %s: %w", name, context.Cause(ctx))
	}
	return res.ID, nil
}

// RemoveNetwork removes the network (an ID or a name); one that does not
// exist is not an error.
func (e *Engine) RemoveNetwork(ctx context.Context, id string) error {
	_, err := e.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing network %s: %w", id, err)
	}
	return nil
}

// ImageExists reports whether ref is a local image.
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	return true, nil
}

var _ pipeline.Execer = (*Engine)(nil)

// Exec runs cmd in the running container id (docker exec), copies its
// output to log and returns its exit status.
func (e *Engine) Exec(ctx context.Context, id string, cmd []string, log io.Writer) (int, error) {
	ex, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, fmt.Errorf("running %q in container %s: %w", cmd, short(id), err)
	}
	hj, err := e.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("running %q in container %s: %w", cmd, short(id), err)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(orDiscard(log), orDiscard(log), hj.Reader)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-ctx.Done():
		err = ctx.Err()
	}
	hj.Close()
	if err != nil {
		return 0, fmt.Errorf("running %q in container %s: %w", cmd, short(id), err)
	}
	// The output ends when the command does; its status may lag a little.
	for {
		ins, err := e.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, fmt.Errorf("running %q in container %s: %w", cmd, short(id), err)
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("running %q in container %s: %w", cmd, short(id), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
