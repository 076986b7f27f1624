package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/utils/exec"

	"github.com/hoistci/hoist/internal/pipeline"
)

// LabelManagedBy marks every pod Hoist makes, with ManagedBy as its value.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "hoist"
)

// The images of the toolbox (sandboxed scripts, and the keeper of a
// pod's workspace) and of BuildKit, as scripts/k3s.sh tags them on the
// node: pods use them with imagePullPolicy Never.
const (
	DefaultToolbox  = "hoist-toolbox:latest"
	DefaultBuildKit = "hoist-buildkit:latest"
)

// DefaultLimits bound a pod's container when neither the build (ctx) nor
// Options say otherwise: the Docker executor's.
var DefaultLimits = pipeline.Limits{Memory: 2 << 30, CPUs: 2, PIDs: 1024}

// Options configure an Executor.
type Options struct {
	// Namespace is where every pod goes ("hoist" when empty). It must
	// exist, and Hoist's account must create, exec into and delete pods
	// there.
	Namespace string
	// Registry (host:port) keeps the images an engine with a local store
	// would keep locally: names without a registry ("app:test") are
	// stored there under hoist-local/. The cluster's nodes must pull from
	// it (on k3s, scripts/k3s.sh writes it into registries.yaml).
	Registry string
	// Insecure lets Hoist and BuildKit reach registries over plain HTTP.
	Insecure bool
	// Keychain gives credentials for registries (pushes of builds).
	Keychain authn.Keychain
	// Toolbox is the image sandboxed scripts run in, present on every
	// node (scripts/k3s.sh imports it); BuildKit is the image of
	// buildkitd and buildctl with runc.
	Toolbox, BuildKit string
	// Git is the image checkouts run git in (Source): git with its
	// HTTP(S) helper, CA certificates, and busybox; present on every node
	// (scripts/k3s.sh imports it).
	Git string
	// Limits are the defaults of every pod's containers; a build's
	// (pipeline.WithLimits) win over them.
	Limits pipeline.Limits
}

// Executor runs stages as pods. Safe for concurrent use.
type Executor struct {
	cs   kubernetes.Interface
	rest *rest.Config
	ns   string
	opts Options
	// pinMu makes keepPins's writes take turns (shared by copies).
	pinMu *sync.Mutex
}

// New connects to the cluster kubeconfig names (see RESTConfig) and checks
// that the namespace exists.
func New(ctx context.Context, kubeconfig string, opts Options) (*Executor, error) {
	cs, cfg, err := Clientset(kubeconfig)
	if err != nil {
		return nil, err
	}
	return NewFor(ctx, cs, cfg, opts)
}

// NewFor is New on a client already made.
func NewFor(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, opts Options) (*Executor, error) {
	if opts.Namespace == "" {
		opts.Namespace = "hoist"
	}
	if opts.Toolbox == "" {
		opts.Toolbox = DefaultToolbox
	}
	if opts.BuildKit == "" {
		opts.BuildKit = DefaultBuildKit
	}
	if opts.Git == "" {
		opts.Git = DefaultGit
	}
	x := &Executor{cs: cs, rest: cfg, ns: opts.Namespace, opts: opts, pinMu: new(sync.Mutex)}
	_, err := cs.CoreV1().Namespaces().Get(ctx, x.ns, metav1.GetOptions{})
	switch {
	case err == nil:
		return x, nil
	case apierrors.IsForbidden(err):
		// An account confined to its namespace (deploy/kubernetes's) may
		// not read namespaces: that it may list pods there will do.
		if _, err := cs.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			return nil, fmt.Errorf("the cluster at %s, namespace %s: %w", cfg.Host, x.ns, err)
		}
		return x, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("the cluster at %s, namespace %s: %w", cfg.Host, x.ns, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: x.ns, Labels: map[string]string{LabelManagedBy: ManagedBy}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("the cluster at %s has no namespace %q, and creating it failed: %w\nCreate it (kubectl create namespace %s) or name another with --k8s-namespace", cfg.Host, x.ns, err, x.ns)
	}
	return x, nil
}

// Namespace is the namespace the executor's pods go in.
func (x *Executor) Namespace() string { return x.ns }

// Close releases nothing: the client has no connection of its own.
func (x *Executor) Close() error { return nil }

// podName is a new unique pod name "hoist-KIND-RANDOM".
func podName(kind string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "hoist-" + kind + "-" + hex.EncodeToString(b[:])
}

// labels are a pod's labels: managed by Hoist, ctx's owner, and extra.
// Values Kubernetes would refuse (longer than 63 characters, or not
// alphanumeric at the ends) are cut to what it accepts.
func labels(ctx context.Context, extra map[string]string) map[string]string {
	l := pipeline.WithLabels(ctx, extra)
	out := make(map[string]string, len(l)+1)
	for k, v := range l {
		out[k] = labelValue(v)
	}
	out[LabelManagedBy] = ManagedBy
	return out
}

func labelValue(v string) string {
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

// limits is the build's limits (ctx), else the options', else the defaults.
func (x *Executor) limits(ctx context.Context) pipeline.Limits {
	return pipeline.LimitsOf(ctx).Or(x.opts.Limits).Or(DefaultLimits)
}

// resources are a container's requests and limits for l: what it may use
// is what it asks for, so that the scheduler places it where that fits.
// Processes are bounded per pod by the kubelet (--pod-max-pids), not here.
func resources(l pipeline.Limits) corev1.ResourceRequirements {
	rl := corev1.ResourceList{}
	if l.Memory > 0 {
		rl[corev1.ResourceMemory] = *resource.NewQuantity(l.Memory, resource.BinarySI)
	}
	if l.CPUs > 0 {
		rl[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(l.CPUs*1000), resource.DecimalSI)
	}
	req := corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(50, resource.DecimalSI)}
	if m, ok := rl[corev1.ResourceMemory]; ok && m.Value() < 64<<20 {
		req[corev1.ResourceMemory] = m
	} else {
		req[corev1.ResourceMemory] = *resource.NewQuantity(64<<20, resource.BinarySI)
	}
	return corev1.ResourceRequirements{Limits: rl, Requests: req}
}

// confined is the security context of a container running code Hoist does
// not trust: no privilege, no capability, the runtime's seccomp profile;
// uid, when not nil, is the user it runs as.
func confined(uid *int64) *corev1.SecurityContext {
	no := false
	return &corev1.SecurityContext{
		RunAsUser:                uid,
		RunAsNonRoot:             nonRoot(uid),
		AllowPrivilegeEscalation: &no,
		Privileged:               &no,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func nonRoot(uid *int64) *bool {
	if uid == nil {
		return nil
	}
	t := *uid != 0
	return &t
}

// podDeadline bounds the life of a pod whose ctx has no deadline.
const podDeadline = 6 * time.Hour

// createPod creates pod in the namespace. When ctx ends while the pod is
// being made, the pod is deleted rather than left.
func (x *Executor) createPod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	pod.Namespace = x.ns
	if pod.Spec.ActiveDeadlineSeconds == nil {
		// A pod outlives its stage only when Hoist died meanwhile: the
		// kubelet then ends it after ctx's deadline, or at most podDeadline.
		pod.Spec.ActiveDeadlineSeconds = deadlineSeconds(ctx, podDeadline)
	}
	if pod.Spec.AutomountServiceAccountToken == nil {
		no := false
		pod.Spec.AutomountServiceAccountToken = &no
	}
	if pod.Spec.EnableServiceLinks == nil {
		no := false
		pod.Spec.EnableServiceLinks = &no
	}
	created, err := x.cs.CoreV1().Pods(x.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() != nil {
			x.deletePod(pod.Name)
		}
		return nil, fmt.Errorf("creating pod %s/%s: %w", x.ns, pod.Name, err)
	}
	return created, nil
}

// deletePod deletes the pod at once (no grace period), also when the
// caller's context has ended; not-found is not an error.
func (x *Executor) deletePod(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zero := int64(0)
	err := x.cs.CoreV1().Pods(x.ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s/%s: %w", x.ns, name, err)
	}
	return nil
}

// waitPod watches the pod until done says it is done (true, or an error),
// the pod is deleted, or ctx ends.
func (x *Executor) waitPod(ctx context.Context, name string, done func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	pods := x.cs.CoreV1().Pods(x.ns)
	for {
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", x.ns, name, err)
		}
		if len(list.Items) == 0 {
			return nil, fmt.Errorf("pod %s/%s is gone", x.ns, name)
		}
		p := &list.Items[0]
		if ok, err := done(p); ok || err != nil {
			return p, err
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: list.ResourceVersion,
		})
		if err != nil {
			return nil, fmt.Errorf("watching pod %s/%s: %w", x.ns, name, err)
		}
		p, err = watchPod(ctx, w, done)
		w.Stop()
		if p != nil || err != nil {
			return p, err
		}
		// The watch ended (the API server closes them now and then): list again.
	}
}

func watchPod(ctx context.Context, w watch.Interface, done func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, nil
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			if ev.Type == watch.Deleted {
				return p, fmt.Errorf("pod %s was deleted", p.Name)
			}
			if ok, err := done(p); ok || err != nil {
				return p, err
			}
		}
	}
}

// running is done when every container of the pod named in names runs
// (all of them when names is empty), and fails when the pod has ended or
// a container cannot start (its image cannot be pulled, for one).
func running(names ...string) func(*corev1.Pod) (bool, error) {
	return func(p *corev1.Pod) (bool, error) {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("pod %s ended (%s) before it ran: %s", p.Name, p.Status.Phase, podReason(p))
		}
		statuses := append(append([]corev1.ContainerStatus(nil), p.Status.ContainerStatuses...), p.Status.EphemeralContainerStatuses...)
		want := map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
		all := 0
		for _, s := range statuses {
			if len(want) > 0 && !want[s.Name] {
				continue
			}
			if w := s.State.Waiting; w != nil && cannotStart(w.Reason) {
				return false, fmt.Errorf("container %s of pod %s cannot start: %s: %s", s.Name, p.Name, w.Reason, w.Message)
			}
			if s.State.Terminated != nil {
				return false, fmt.Errorf("container %s of pod %s ended before it ran: exit code %d %s", s.Name, p.Name, s.State.Terminated.ExitCode, s.State.Terminated.Reason)
			}
			if s.State.Running != nil {
				all++
			}
		}
		n := len(names)
		if n == 0 {
			n = len(p.Spec.Containers)
		}
		return all >= n, nil
	}
}

// cannotStart are the waiting reasons of a container that will not start
// by itself.
func cannotStart(reason string) bool {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff":
		return true
	}
	return false
}

// podReason says why a pod is where it is, for errors.
func podReason(p *corev1.Pod) string {
	var parts []string
	if p.Status.Reason != "" || p.Status.Message != "" {
		parts = append(parts, strings.TrimSpace(p.Status.Reason+" "+p.Status.Message))
	}
	for _, s := range append(append([]corev1.ContainerStatus(nil), p.Status.ContainerStatuses...), p.Status.EphemeralContainerStatuses...) {
		switch {
		case s.State.Waiting != nil && s.State.Waiting.Reason != "":
			parts = append(parts, fmt.Sprintf("%s: %s %s", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message))
		case s.State.Terminated != nil:
			parts = append(parts, fmt.Sprintf("%s: exited %d %s", s.Name, s.State.Terminated.ExitCode, s.State.Terminated.Reason))
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			parts = append(parts, c.Message)
		}
	}
	if len(parts) == 0 {
		return string(p.Status.Phase)
	}
	return strings.Join(parts, "; ")
}

// exec runs cmd in a container of a running pod, with stdin (nil: none)
// and its output to stdout and stderr, and returns its exit code. An
// error is returned only when it could not run or its stream broke.
func (x *Executor) exec(ctx context.Context, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	req := x.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(x.ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   cmd,
			Stdin:     stdin != nil,
			Stdout:    stdout != nil,
			Stderr:    stderr != nil,
		}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(x.rest, "POST", req.URL())
	if err != nil {
		return -1, fmt.Errorf("exec in pod %s/%s: %w", x.ns, pod, err)
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	var exit exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitStatus(), nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, fmt.Errorf("exec %s in pod %s/%s: %w", strings.Join(cmd, " "), x.ns, pod, err)
	}
	return 0, nil
}

// logs copies a container's output to w; with follow until it ends.
func (x *Executor) logs(ctx context.Context, pod, container string, follow bool, w io.Writer) error {
	rc, err := x.cs.CoreV1().Pods(x.ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: follow}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs of %s in pod %s/%s: %w", container, x.ns, pod, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s in pod %s/%s: %w", container, x.ns, pod, err)
	}
	return nil
}

// Ref is where the executor keeps an image named ref: ref itself when it
// names a registry ("host:port/...", "host.domain/...", "localhost/..."),
// else the same name under hoist-local/ in Options.Registry, which stands
// in for the local image store an engine like Docker has.
func (x *Executor) Ref(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref
	}
	return x.opts.Registry + "/hoist-local/" + ref
}

// metaFor is the metadata of a new pod named name: ctx's owner labels,
// Hoist's, and extra.
func metaFor(ctx context.Context, name string, extra map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: labels(ctx, extra)}
}

var _ pipeline.Executor = (*Executor)(nil)
