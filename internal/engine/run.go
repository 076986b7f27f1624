package engine

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// cleanupTimeout bounds the removal of a container after Run, which uses its
// own context so that a cancelled caller still cleans up.
const cleanupTimeout = 30 * time.Second

// drainTimeout bounds how long Run waits for a stopped container's output.
const drainTimeout = 5 * time.Second

// ulimits are set on every container: Podman refuses to start containers
// without them when it cannot raise its own limits.
func ulimits() []*container.Ulimit {
	return []*container.Ulimit{
		{Name: "nofile", Soft: 1024, Hard: 4096},
		{Name: "nproc", Soft: 1024, Hard: 1024},
	}
}

// droppedCaps are capabilities of the engine's default set that images
// under test do not get: raw sockets, device nodes, audit records and file
// capabilities.
var droppedCaps = []string{"NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP"}

// confined is the HostConfig of every container Hoist starts from an
// image (the checks, structure tests, autotests, the image under test
// beside a test-script): the build's limits (limitsFor), never
// privileged, the engine's default namespaces (no host network, PID or
// IPC), no mounts, and fewer capabilities than the engine's default.
func (e *Engine) confined(ctx context.Context) container.HostConfig {
	return container.HostConfig{CapDrop: droppedCaps, Resources: resources(e.limitsFor(ctx))}
}

// resources bounds a container by lim: memory with swap included, CPU
// time, processes, and Hoist's ulimits.
func resources(lim pipeline.Limits) container.Resources {
	return container.Resources{
		Memory:     lim.Memory,
		MemorySwap: lim.Memory,
		NanoCPUs:   int64(lim.CPUs * 1e9),
		PidsLimit:  ptr(lim.PIDs),
		Ulimits:    ulimits(),
	}
}

func ptr[T any](v T) *T { return &v }

// Run creates and starts a container from spec, copies its output to log,
// waits until it exits or has stayed up for spec.StayUp (then kills it), and
// removes it whatever happens.
func (e *Engine) Run(ctx context.Context, spec pipeline.RunSpec, log io.Writer) (pipeline.RunResult, error) {
	hc := e.confined(ctx)
	if spec.Offline {
		hc.NetworkMode = "none" // Podman's way; dockerd's is NetworkDisabled
	}
	id, err := e.createContainer(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:  spec.Image,
			Cmd:    spec.Cmd,
			Env:    spec.Env,
			Labels: pipeline.WithLabels(ctx, spec.Labels),
			// No network to set up: dockerd runs no libnetwork-setkey
			// hook (a start of its own binary, about half of a
			// container start's CPU time), which "none" alone does not
			// spare.
			NetworkDisabled: spec.Offline,
		},
		HostConfig: &hc,
	})
	if err != nil {
		return pipeline.RunResult{}, fmt.Errorf("creating container from %s: %w", spec.Image, err)
	}
	e.log.Debug("created container", "id", id, "image", spec.Image)
	defer e.remove(id)
	finish, err := e.attach(ctx, id, orDiscard(log))
	if err != nil {
		// Podman starts a created container on attach and answers 409
		// when that fails; starting it says why.
		if _, serr := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); serr != nil {
			return pipeline.RunResult{}, fmt.Errorf("starting container from %s: %w", spec.Image, serr)
		}
		return pipeline.RunResult{}, err
	}
	if _, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		finish(false)
		return pipeline.RunResult{}, fmt.Errorf("starting container from %s: %w", spec.Image, err)
	}
	defer finish(true)
	return e.await(ctx, id, spec.StayUp)
}

// attach streams the container's stdout and stderr to log until it stops.
// finish ends the copy, after waiting a little for it to drain when drain
// is true: nothing is written to log after finish returns.
func (e *Engine) attach(ctx context.Context, id string, log io.Writer) (finish func(drain bool), err error) {
	hj, err := e.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attaching to container %s: %w", short(id), err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = stdcopy.StdCopy(log, log, hj.Reader)
	}()
	return func(drain bool) {
		if drain {
			select {
			case <-done:
			case <-ctx.Done():
			case <-time.After(drainTimeout):
			}
		}
		hj.Close()
		<-done
	}, nil
}

// await waits for the container to exit, or kills it once it has stayed up
// for stayUp (when stayUp > 0).
func (e *Engine) await(ctx context.Context, id string, stayUp time.Duration) (pipeline.RunResult, error) {
	wait := e.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var timeout <-chan time.Time
	if stayUp > 0 {
		timer := time.NewTimer(stayUp)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return pipeline.RunResult{}, fmt.Errorf("waiting for container %s: %s", short(id), r.Error.Message)
		}
		return pipeline.RunResult{Exited: true, ExitCode: int(r.StatusCode)}, nil
	case err := <-wait.Error:
		return pipeline.RunResult{}, fmt.Errorf("waiting for container %s: %w", short(id), err)
	case <-timeout:
		// Staying up was all there was to see: the container is killed at
		// once, not stopped with a grace period (a server that ignores
		// SIGTERM, as a shell as PID 1 does, would cost it in full). One
		// that exited meanwhile answers "not running": that is fine too.
		if _, err := e.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsNotFound(err) {
			return pipeline.RunResult{}, fmt.Errorf("killing container %s: %w", short(id), err)
		}
		return pipeline.RunResult{Exited: false}, nil
	}
}

// createContainer creates a container and returns its ID, never losing one:
// the engine may make a container even when the client gives up on the
// call, so the call is not cut short by ctx (it is bounded by
// cleanupTimeout), and a container made while ctx ended is removed again
// and ctx's cause returned.
func (e *Engine) createContainer(ctx context.Context, opts client.ContainerCreateOptions) (string, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	created, err := e.cli.ContainerCreate(cctx, opts)
	if err != nil {
		return "", err
	}
	if ctx.Err() != nil {
		e.remove(created.ID)
		return "", context.Cause(ctx)
	}
	return created.ID, nil
}

// remove force-removes a container with a context of its own.
func (e *Engine) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		e.log.Warn("removing container", "id", id, "err", err)
	}
}

// RemoveContainersOf force-removes every container, running or not, created
// from image, but those in except, and returns how many it removed.
// Containers of images built on top of image (which Docker's "ancestor"
// filter also lists) are left alone: they belong to other builds.
func (e *Engine) RemoveContainersOf(ctx context.Context, image string, except ...string) (int, error) {
	insp, err := e.cli.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return 0, nil // no image, no containers of it
	}
	if err != nil {
		return 0, fmt.Errorf("inspecting %s: %w", image, err)
	}
	ancestor := image
	if e.podman {
		// Podman's filter matches only full names ("docker.io/library/x:t"
		// for "x:t"), or the bare image ID.
		ancestor = strings.TrimPrefix(insp.ID, "sha256:")
	}
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("ancestor", ancestor),
	})
	if err != nil {
		return 0, fmt.Errorf("listing containers of %s: %w", image, err)
	}
	n := 0
	for _, c := range list.Items {
		if c.ImageID != insp.ID || slices.Contains(except, c.ID) {
			continue
		}
		if _, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			if cerrdefs.IsNotFound(err) {
				continue // gone since the list was made
			}
			return n, fmt.Errorf("removing container %s of %s: %w", short(c.ID), image, err)
		}
		n++
	}
	return n, nil
}

// short abbreviates a container ID for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
