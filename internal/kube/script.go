package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hoistci/hoist/internal/pipeline"
)

// What the pods of scripts share: the workspace (an emptyDir a keeper
// container of the toolbox receives the checkout in, and sends it back
// from, as tar streams through exec), the toolbox's busybox with the
// markers that start and stop a script (another emptyDir, read-only to
// the script), and a /tmp in memory.
const (
	// SandboxUID is the user scripts and keepers run as.
	SandboxUID = 1000
	// WorkspaceMount is where a script sees its checkout.
	WorkspaceMount = "/workspace"
	hoistMount     = "/.hoist"
	volWorkspace   = "workspace"
	volHoist       = "hoist"
	volTmp         = "tmp"
	keeper         = "keeper"
	// drainTimeout bounds the wait for a container's last output.
	drainTimeout = 5 * time.Second
)

// noShellLine is what the script wrapper prints when the script's image
// has no /bin/sh.
const noShellLine = "hoist-sandbox: no /bin/sh"

// wrapper is the command of a script's container, run by the toolbox's
// busybox (so that an image needs nothing but /bin/sh): it waits until the
// keeper has unpacked the workspace (the marker ready-RUN), runs the
// script in its folder (directly when executable, its "#!" picks the
// interpreter, else with sh, as on the host), and exits with its status;
// the marker kill-RUN ends it at once. It runs as the container's PID 1:
// when it exits, every process of the container is killed.
const wrapper = `B=/.hoist/busybox run=$1 dir=$2 script=$3
while [ ! -e "/.hoist/ready-$run" ]; do $B sleep 0.1; done
[ -x /bin/sh ] || { echo "` + noShellLine + `" >&2; exit 127; }
cd "$dir" || exit 126
trap 'exit 137' USR1
( while [ ! -e "/.hoist/kill-$run" ]; do $B sleep 0.5; done; kill -USR1 $$ ) &
/bin/sh -c 'if [ -x "$0" ]; then exec "$0"; else exec sh "$0"; fi' "$script" &
wait $!
`

// workspaceVolumes are the volumes of a pod that runs scripts.
func workspaceVolumes() []corev1.Volume {
	ws := resource.NewQuantity(maxWorkspaceBytes, resource.BinarySI)
	tmp := resource.NewQuantity(64<<20, resource.BinarySI)
	return []corev1.Volume{
		{Name: volWorkspace, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ws}}},
		{Name: volHoist, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: volTmp, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: tmp}}},
	}
}

// keeperContainer is the toolbox container that holds a pod's workspace:
// it puts busybox where scripts find it and sleeps; Hoist execs tar in it.
func (x *Executor) keeperContainer() corev1.Container {
	uid := int64(SandboxUID)
	sc := confined(&uid)
	sc.RunAsGroup = &uid
	return corev1.Container{
		Name: keeper, Image: x.opts.Toolbox, ImagePullPolicy: corev1.PullNever,
		Command:         []string{"sh", "-c", "[ -e " + hoistMount + "/busybox ] || cp /bin/busybox " + hoistMount + "/ && exec sleep 2147483647"},
		SecurityContext: sc,
		Resources:       resources(pipeline.Limits{Memory: 256 << 20, CPUs: 0.5}),
		VolumeMounts: []corev1.VolumeMount{
			{Name: volWorkspace, MountPath: WorkspaceMount},
			{Name: volHoist, MountPath: hoistMount},
		},
	}
}

// toolsContainer is the init container that puts the toolbox's busybox
// in place before the containers that run it start.
func (x *Executor) toolsContainer() corev1.Container {
	c := x.keeperContainer()
	c.Name, c.Command = "tools", []string{"cp", "/bin/busybox", hoistMount + "/busybox"}
	return c
}

// scriptCommon is the container that runs the script of run.
func (x *Executor) scriptCommon(name string, r *scriptRun) corev1.EphemeralContainerCommon {
	uid := int64(SandboxUID)
	sc := confined(&uid)
	sc.RunAsGroup = &uid
	ro := true
	sc.ReadOnlyRootFilesystem = &ro
	return corev1.EphemeralContainerCommon{
		Name: name, Image: r.image, ImagePullPolicy: x.pullPolicy(r.image),
		Command:         literal([]string{hoistMount + "/busybox", "sh", "-c", wrapper, "hoist-script", r.id, r.dir, r.script}),
		Env:             envVars(r.env),
		SecurityContext: sc,
		VolumeMounts: []corev1.VolumeMount{
			{Name: volWorkspace, MountPath: WorkspaceMount},
			{Name: volHoist, MountPath: hoistMount, ReadOnly: true},
			{Name: volTmp, MountPath: "/tmp"},
		},
	}
}

// copyIn replaces the workspace of the pod's keeper with the folder ws and
// sets the marker that starts the script of run id.
func (x *Executor) copyIn(ctx context.Context, pod, ws, id string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeWorkspace(pw, ws)) }()
	defer pr.Close()
	cmd := "cd " + WorkspaceMount + " && rm -rf ./* ./.[!.]* ./..?* && tar xf - && touch " + hoistMount + "/ready-" + id
	var stderr bytes.Buffer
	code, err := x.exec(ctx, pod, keeper, []string{"sh", "-c", cmd}, pr, io.Discard, &stderr)
	if err == nil && code != 0 {
		err = fmt.Errorf("tar exited with status %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return fmt.Errorf("copying the workspace into pod %s: %w", pod, err)
	}
	return nil
}

// copyOut makes the folder ws what the pod's workspace holds now.
func (x *Executor) copyOut(ctx context.Context, pod, ws string) error {
	return x.copyOutOf(ctx, pod, keeper, WorkspaceMount, ws)
}

// copyOutOf makes the folder ws what the folder from of the pod's
// container c holds now.
func (x *Executor) copyOutOf(ctx context.Context, pod, c, from, ws string) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := readWorkspace(ws, pr)
		pr.CloseWithError(err)
		done <- err
	}()
	var stderr bytes.Buffer
	code, err := x.exec(ctx, pod, c, []string{"tar", "cf", "-", "-C", from, "."}, nil, pw, &stderr)
	pw.Close()
	rerr := <-done
	switch {
	case rerr != nil:
		err = rerr // the stream's fault, whatever tar then said
	case err != nil:
	case code != 0:
		err = fmt.Errorf("tar exited with status %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return fmt.Errorf("copying the workspace back from pod %s: %w", pod, err)
	}
	return nil
}

// follow streams a container's output to w until it ends; finish waits
// (at most drainTimeout) for the rest of it: nothing is written to w after
// finish returns.
func (x *Executor) follow(ctx context.Context, pod, container string, w io.Writer) (finish func()) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = x.logs(lctx, pod, container, true, w)
	}()
	return func() {
		select {
		case <-done:
		case <-time.After(drainTimeout):
		case <-ctx.Done():
		}
		cancel()
		<-done
	}
}

// stateOf is the state of the pod's container name (an ephemeral one
// too); ok is false while the pod reports none.
func stateOf(p *corev1.Pod, name string) (corev1.ContainerState, bool) {
	for _, s := range append(append([]corev1.ContainerStatus(nil), p.Status.ContainerStatuses...), p.Status.EphemeralContainerStatuses...) {
		if s.Name == name {
			return s.State, true
		}
	}
	return corev1.ContainerState{}, false
}

// started is done when the container name runs or has run, and fails when
// it cannot start (with the error cannot makes of the waiting state) or
// the pod ended.
func started(name string, cannot func(*corev1.ContainerStateWaiting) error) func(*corev1.Pod) (bool, error) {
	return func(p *corev1.Pod) (bool, error) {
		for _, s := range p.Status.InitContainerStatuses {
			if w := s.State.Waiting; w != nil && cannotStart(w.Reason) {
				return false, fmt.Errorf("init container %s of pod %s cannot start: %s: %s", s.Name, p.Name, w.Reason, w.Message)
			}
		}
		st, _ := stateOf(p, name)
		switch {
		case st.Waiting != nil && cannotStart(st.Waiting.Reason):
			return false, cannot(st.Waiting)
		case st.Running != nil || st.Terminated != nil:
			return true, nil
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			return false, fmt.Errorf("pod %s ended (%s): %s", p.Name, p.Status.Phase, podReason(p))
		}
		return false, nil
	}
}

// terminated is done when the container name has ended.
func terminated(name string) func(*corev1.Pod) (bool, error) {
	return func(p *corev1.Pod) (bool, error) {
		st, _ := stateOf(p, name)
		if st.Terminated != nil {
			return true, nil
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("pod %s ended (%s): %s", p.Name, p.Status.Phase, podReason(p))
		}
		return false, nil
	}
}

// outputWatch passes a script's output on and notes the lines that say
// why it failed: a call of docker that found no engine, an image without
// /bin/sh.
type outputWatch struct {
	w            io.Writer
	mu           sync.Mutex
	tail         []byte
	docker, noSh bool
}

// dockerCalls are what a shell or the toolbox's docker prints when a
// script calls docker where there is none.
var dockerCalls = []string{"docker: not found", "docker: command not found", "docker: No such file or directory",
	"docker: this project is not trusted", "Cannot connect to the Docker daemon"}

func (o *outputWatch) Write(p []byte) (int, error) {
	o.mu.Lock()
	buf := append(o.tail, p...)
	for _, c := range dockerCalls {
		o.docker = o.docker || bytes.Contains(buf, []byte(c))
	}
	o.noSh = o.noSh || bytes.Contains(buf, []byte(noShellLine))
	const keep = 64
	o.tail = append(o.tail[:0], buf[max(0, len(buf)-keep):]...)
	o.mu.Unlock()
	return o.w.Write(p)
}

func (o *outputWatch) seen() (docker, noShell bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.docker, o.noSh
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return discard{}
	}
	return w
}
