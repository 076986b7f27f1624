package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Sandbox returns the runner of scripts of projects Hoist does not trust:
// each runs in a pod of its own, or beside a container StartContainer
// started (ScriptSpec.JoinContainer), with a copy of its workspace that is
// copied back when it ends.
func (x *Executor) Sandbox() pipeline.ScriptRunner { return sandbox{x} }

// sandbox runs scripts as the Docker sandbox does, in pods: the checkout
// is copied into the pod (an emptyDir) and back, the script runs as
// SandboxUID with no capability, no privilege escalation, a read-only root
// filesystem with a /tmp in memory, the build's limits, no service-account
// token and no engine, in the toolbox or in ScriptSpec.Image (pulled by
// the node). What the script changes in the workspace is there afterwards
// (written, replaced and deleted files alike) when it ran to its end,
// whatever its status; a timeout or a cancel deletes the pod at once, and
// its changes are lost.
type sandbox struct{ x *Executor }

var errTimedOut = errors.New("script timed out")

// scriptRun is one script to run.
type scriptRun struct {
	id    string // names its markers and its ephemeral container
	name  string // the script, for messages
	image string // the image it runs in, as the node pulls it
	// script and dir are its path and working folder in the pod.
	script, dir string
	env         []string
	spec        pipeline.ScriptSpec
	lim         pipeline.Limits
}

// RunScript runs spec; see sandbox.
func (s sandbox) RunScript(ctx context.Context, spec pipeline.ScriptSpec, log io.Writer) error {
	r, err := s.x.newRun(ctx, spec)
	if err != nil {
		return err
	}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, errTimedOut)
		defer cancel()
	}
	watch := &outputWatch{w: orDiscard(log)}
	var st *corev1.ContainerStateTerminated
	if spec.JoinContainer != "" {
		st, err = s.x.runBeside(ctx, r, watch)
	} else {
		st, err = s.x.runInPod(ctx, r, watch)
	}
	return r.outcome(ctx, st, err, watch)
}

// newRun checks spec and says how its script runs.
func (x *Executor) newRun(ctx context.Context, spec pipeline.ScriptSpec) (*scriptRun, error) {
	if spec.Workspace == "" {
		return nil, errors.New("a sandboxed script needs a workspace")
	}
	r := &scriptRun{name: displayName(spec.Script, spec.Dir), spec: spec, lim: x.limits(ctx)}
	var err error
	if r.script, err = inWorkspace(spec.Workspace, spec.Script); err != nil {
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	if r.dir, err = inWorkspace(spec.Workspace, spec.Dir); err != nil {
		return nil, fmt.Errorf("%s: working folder: %w", r.name, err)
	}
	if info, err := os.Stat(spec.Script); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: not found", r.name)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", r.name, err)
	} else if info.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, not a script", r.name)
	}
	if spec.EngineAccess {
		return nil, fmt.Errorf("%s: the Kubernetes executor has no container engine to give a script (pods have no engine socket): run this project with --executor docker, or remove its image key so that its script runs on the host", r.name)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	r.id = hex.EncodeToString(b[:])
	r.image = x.opts.Toolbox
	r.env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}
	if spec.Image != "" {
		r.image = x.Ref(spec.Image)
		r.env = r.env[1:] // the project's own image keeps its PATH
	}
	r.env = append(append(r.env, spec.Env...), pipeline.OwnerOf(ctx).Env()...)
	return r, nil
}

// runInPod runs r in a pod of its own: an init container puts the
// toolbox's busybox in place, the keeper receives the workspace, the
// script's container waits for it, runs, and the workspace goes back.
func (x *Executor) runInPod(ctx context.Context, r *scriptRun, log io.Writer) (*corev1.ContainerStateTerminated, error) {
	name := podName("script")
	uid := int64(SandboxUID)
	yes := true
	script := corev1.Container(x.scriptCommon("script", r))
	script.Resources = resources(r.lim)
	pod := &corev1.Pod{
		ObjectMeta: metaFor(ctx, name, map[string]string{labelKind: "script"}),
		Spec: corev1.PodSpec{
			RestartPolicy:         corev1.RestartPolicyNever,
			ActiveDeadlineSeconds: deadlineSeconds(ctx, r.spec.Timeout),
			SecurityContext:       &corev1.PodSecurityContext{RunAsNonRoot: &yes, FSGroup: &uid},
			Volumes:               workspaceVolumes(),
			InitContainers:        []corev1.Container{x.toolsContainer()},
			Containers:            []corev1.Container{x.keeperContainer(), script},
		},
	}
	if _, err := x.createPod(ctx, pod); err != nil {
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	defer x.deletePod(name)
	// The keeper first, while the node pulls the script's image.
	keeperUp := func(p *corev1.Pod) (bool, error) {
		if _, err := started("script", r.cannotStart)(p); err != nil {
			return false, err
		}
		st, _ := stateOf(p, keeper)
		return st.Running != nil, nil
	}
	if _, err := x.waitPod(ctx, name, keeperUp); err != nil {
		return nil, r.failed(err)
	}
	if err := x.copyIn(ctx, name, r.spec.Workspace, r.id); err != nil {
		return nil, r.failed(err)
	}
	return x.runScript(ctx, name, "script", r, log)
}

// runBeside runs r in an ephemeral container added to the pod of the
// container r.spec.JoinContainer (StartContainer made it with a keeper and
// the volumes scripts need): it shares the pod's network namespace, so it
// reaches the image under test on localhost. An ephemeral container has no
// resources of its own (Kubernetes refuses them): it runs in the pod's
// cgroup, bounded by the pod's limits (the sum of its containers', the
// build's limits for the image under test), which it shares with the
// image under test. Ephemeral containers cannot be removed: it stays in
// the pod, ended, until the pod is deleted. One script at a time joins a
// container: the workspace of the pod is replaced by each.
func (x *Executor) runBeside(ctx context.Context, r *scriptRun, log io.Writer) (*corev1.ContainerStateTerminated, error) {
	name := r.spec.JoinContainer
	pods := x.cs.CoreV1().Pods(x.ns)
	p, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s: container %s is gone", r.name, name)
	} else if err != nil {
		return nil, r.failed(err)
	}
	if st, _ := stateOf(p, mainContainer); st.Running == nil {
		return nil, fmt.Errorf("%s: container %s is not running: %s", r.name, name, podReason(p))
	}
	if st, _ := stateOf(p, keeper); st.Running == nil {
		return nil, fmt.Errorf("%s: container %s has no workspace keeper running: %s", r.name, name, podReason(p))
	}
	if err := x.copyIn(ctx, name, r.spec.Workspace, r.id); err != nil {
		return nil, r.failed(err)
	}
	cname := "script-" + r.id
	defer func() {
		// Whatever happened, the script ends now (a no-op when it has).
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		// (exec needs a stream)
		_, _ = x.exec(kctx, name, keeper, []string{"touch", hoistMount + "/kill-" + r.id}, nil, io.Discard, io.Discard)
	}()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: x.scriptCommon(cname, r)})
		_, err = pods.UpdateEphemeralContainers(ctx, name, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, r.failed(fmt.Errorf("adding the script's container to pod %s: %w", name, err))
	}
	return x.runScript(ctx, name, cname, r, log)
}

// runScript follows the script's container c of pod, whose workspace is
// in place, to its end, and copies the workspace back.
func (x *Executor) runScript(ctx context.Context, pod, c string, r *scriptRun, log io.Writer) (*corev1.ContainerStateTerminated, error) {
	if _, err := x.waitPod(ctx, pod, started(c, r.cannotStart)); err != nil {
		return nil, r.failed(err)
	}
	finish := x.follow(ctx, pod, c, log)
	p, err := x.waitPod(ctx, pod, terminated(c))
	finish()
	if err != nil {
		return nil, r.failed(err)
	}
	st, _ := stateOf(p, c)
	if err := x.copyOut(ctx, pod, r.spec.Workspace); err != nil {
		return nil, r.failed(err)
	}
	return st.Terminated, nil
}

// cannotStart is the error of a script's container that cannot start.
func (r *scriptRun) cannotStart(w *corev1.ContainerStateWaiting) error {
	if r.spec.Image != "" {
		return fmt.Errorf("%s %s cannot be pulled by the cluster's nodes (%s: %s): push it where they can pull it, or remove the key", imageFrom(r.spec), r.spec.Image, w.Reason, w.Message)
	}
	return fmt.Errorf("%s: its sandbox cannot start: %s: %s", r.name, w.Reason, w.Message)
}

// failed prefixes err with the script's name, unless ctx's end explains it
// (outcome says so) or it says where the image was named.
func (r *scriptRun) failed(err error) error {
	if r.spec.Image != "" && strings.HasPrefix(err.Error(), imageFrom(r.spec)+" "+r.spec.Image) {
		return err
	}
	return fmt.Errorf("%s: %w", r.name, err)
}

// outcome is RunScript's error for how the script ended (st), as the
// Docker sandbox words it.
func (r *scriptRun) outcome(ctx context.Context, st *corev1.ContainerStateTerminated, err error, watch *outputWatch) error {
	switch {
	case errors.Is(context.Cause(ctx), errTimedOut):
		return fmt.Errorf("%s timed out after %s", r.name, r.spec.Timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s stopped: %w", r.name, context.Cause(ctx))
	case err != nil:
		return err
	case st.ExitCode == 0:
		return nil
	}
	docker, noShell := watch.seen()
	switch {
	case noShell && st.ExitCode == 127:
		return fmt.Errorf("%s: %s has no /bin/sh, which runs the script: name an image with a POSIX shell (busybox, alpine, debian…)", r.name, r.spec.Image)
	case st.Reason == "OOMKilled":
		return fmt.Errorf("%s was killed: it used more than its %s of memory", r.name, pipeline.SizeText(r.lim.Memory))
	case st.ExitCode == 137:
		return fmt.Errorf("%s was killed (signal 9): most likely it used more than its %s of memory", r.name, pipeline.SizeText(r.lim.Memory))
	case docker:
		return fmt.Errorf("%s exited with status %d; it called docker, which scripts of a project Hoist does not trust do not get: %s", r.name, st.ExitCode, trustHint(r.spec.Env))
	}
	return fmt.Errorf("%s exited with status %d", r.name, st.ExitCode)
}

// deadlineSeconds is a pod's activeDeadlineSeconds: timeout (or what is
// left of ctx) with a minute's margin, Hoist's own deadline coming first;
// nil when there is neither.
func deadlineSeconds(ctx context.Context, timeout time.Duration) *int64 {
	if d, ok := ctx.Deadline(); ok && (timeout <= 0 || time.Until(d) < timeout) {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return nil
	}
	s := int64(timeout.Seconds()) + 60
	return &s
}

// imageFrom is how errors about spec.Image start: where it was named.
func imageFrom(spec pipeline.ScriptSpec) string {
	if spec.ImageFrom != "" {
		return spec.ImageFrom
	}
	return "image"
}

// trustHint says how an untrusted project's scripts get an engine.
func trustHint(env []string) string {
	name := "NS/NAME"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOIST_PROJECT="); ok && v != "" {
			name, _, _ = strings.Cut(v, ":")
		}
	}
	return "a project's scripts get the engine only when it is trusted (hoist project trust " + name + ") and Hoist runs them with the docker executor"
}

// inWorkspace returns p (a host path inside ws) as the sandbox sees it.
func inWorkspace(ws, p string) (string, error) {
	rel, err := pipeline.WorkspaceRel(ws, p)
	if err != nil {
		return "", err
	}
	return path.Join(WorkspaceMount, rel), nil
}

// displayName names the script relative to dir when it lies inside it.
func displayName(p, dir string) string {
	rel, err := filepath.Rel(dir, p)
	if dir == "" || err != nil || !filepath.IsLocal(rel) {
		return p
	}
	return filepath.ToSlash(rel)
}
