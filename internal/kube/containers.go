package kube

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The labels and annotations of Hoist's pods besides the owner's.
const (
	// labelKind says what a pod is for: "script", "run", "container".
	labelKind = "org.hoistci.kind"
	// labelNetwork is the network (CreateNetwork's id) a container is in.
	labelNetwork = "org.hoistci.network"
	// annotationAliases are the names a container has in its network,
	// comma-separated.
	annotationAliases = "org.hoistci.aliases"
	// annotationLabels are a container's labels as they were given (JSON),
	// when a label had to change to be a Kubernetes label.
	annotationLabels = "org.hoistci.labels"
	// mainContainer is the container of a pod that runs the image.
	mainContainer = "main"
)

// droppedCaps are capabilities of the runtime's default set that images
// under test do not get, as with the Docker executor: raw sockets, device
// nodes, audit records and file capabilities.
var droppedCaps = []corev1.Capability{"NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP"}

// StartContainer starts spec as the container "main" of a pod of its own
// and waits until it runs (or has already ended), deleting the pod when
// it cannot start. The pod holds a keeper (the toolbox) too, and the
// volumes a script beside it (ScriptSpec.JoinContainer) uses; the keeper
// also probes its ports. It returns the pod's name.
//
// Networks are not objects of the cluster (it has no DNS here): the pod
// is labelled with spec.Network and gets hostAliases naming the pods of
// that network that already run (their aliases → their IPs) and its own
// aliases (→ 127.0.0.1), and publishes its aliases for the pods started
// after it. Compose services start in dependency order, so each reaches
// the services it depends on; a pod does not learn the names of those
// started after it.
//
// spec.User must be numeric ("1000", "1000:1000") or root: Kubernetes
// cannot look a user's name up in the image. Privileged containers are
// refused, as by the Docker executor.
func (x *Executor) StartContainer(ctx context.Context, spec pipeline.ContainerSpec) (string, error) {
	if spec.Privileged {
		return "", fmt.Errorf("starting container from %s: privileged containers are refused: Hoist runs other people's images confined", spec.Image)
	}
	if spec.Network == "" && len(spec.Aliases) > 0 {
		return "", fmt.Errorf("starting container from %s: aliases %v need a network", spec.Image, spec.Aliases)
	}
	main, err := x.imageContainer(ctx, spec.Image, spec.Entrypoint, spec.Cmd, spec.Env, spec.User, spec.WorkingDir)
	if err != nil {
		return "", fmt.Errorf("starting container from %s: %w", spec.Image, err)
	}
	name := podName("ctr")
	meta := x.imageMeta(ctx, name, "container", spec.Labels)
	var hosts []corev1.HostAlias
	if spec.Network != "" {
		meta.Labels[labelNetwork] = labelValue(spec.Network)
		meta.Annotations[annotationAliases] = strings.Join(spec.Aliases, ",")
		if hosts, err = x.hostAliases(ctx, spec.Network); err != nil {
			return "", fmt.Errorf("starting container from %s: %w", spec.Image, err)
		}
		if len(spec.Aliases) > 0 {
			hosts = append(hosts, corev1.HostAlias{IP: "127.0.0.1", Hostnames: spec.Aliases})
		}
	}
	keep := x.keeperContainer()
	pod := &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		HostAliases:   hosts,
		Volumes:       workspaceVolumes(),
	}}
	if spec.Entrypoint != nil {
		x.splitStderr(pod, &main, &keep)
	}
	// The keeper starts first. The kubelet rewrites the pod's /etc/hosts
	// in place (truncating it) each time it starts one of the pod's
	// containers: with the image's container started first, its first
	// reads of /etc/hosts could find it empty while the keeper started.
	// (A script joining it, an ephemeral container, still rewrites it.)
	pod.Spec.Containers = []corev1.Container{keep, main}
	if _, err := x.createPod(ctx, pod); err != nil {
		return "", fmt.Errorf("starting container from %s: %w", spec.Image, err)
	}
	up := func(p *corev1.Pod) (bool, error) {
		ok, err := started(mainContainer, cannotStartImage(spec.Image))(p)
		if !ok || err != nil {
			return ok, err
		}
		st, _ := stateOf(p, keeper)
		if st.Terminated != nil {
			return false, fmt.Errorf("starting container from %s: its keeper ended: %s", spec.Image, podReason(p))
		}
		return st.Running != nil, nil
	}
	if _, err := x.waitPod(ctx, name, up); err != nil {
		x.deletePod(name)
		if !strings.HasPrefix(err.Error(), "starting container") {
			err = fmt.Errorf("starting container from %s: %w", spec.Image, err)
		}
		return "", err
	}
	return name, nil
}

// cannotStartImage is the error of a container of image that cannot
// start.
func cannotStartImage(image string) func(*corev1.ContainerStateWaiting) error {
	return func(w *corev1.ContainerStateWaiting) error {
		return fmt.Errorf("starting container from %s: %s: %s", image, w.Reason, w.Message)
	}
}

// hostAliases maps the aliases of the running pods of network to their
// IPs.
func (x *Executor) hostAliases(ctx context.Context, network string) ([]corev1.HostAlias, error) {
	list, err := x.cs.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{LabelSelector: labelNetwork + "=" + labelValue(network)})
	if err != nil {
		return nil, fmt.Errorf("listing the containers of network %s: %w", network, err)
	}
	var out []corev1.HostAlias
	for _, p := range list.Items {
		names := p.Annotations[annotationAliases]
		if names == "" || p.Status.PodIP == "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		out = append(out, corev1.HostAlias{IP: p.Status.PodIP, Hostnames: strings.Split(names, ",")})
	}
	return out, nil
}

// imageContainer is the container "main" that runs image: entrypoint
// (nil: the image's; empty: none, cmd is the whole command) and cmd (nil:
// the image's), as the Docker executor's.
func (x *Executor) imageContainer(ctx context.Context, image string, entrypoint, cmd, env []string, user, dir string) (corev1.Container, error) {
	c := corev1.Container{
		Name: mainContainer, Image: x.Ref(image), ImagePullPolicy: x.pullPolicy(image),
		WorkingDir: dir, Resources: resources(x.limits(ctx)),
	}
	switch {
	case entrypoint == nil:
		c.Args = literal(cmd)
	case len(entrypoint) == 0 && len(cmd) == 0:
		return c, fmt.Errorf("an empty entrypoint needs a command")
	case len(entrypoint) == 0:
		c.Command = literal(cmd) // Kubernetes reads an empty command as the image's
	default:
		c.Command, c.Args = literal(entrypoint), literal(cmd)
	}
	c.Env = envVars(env)
	uid, gid, err := numericUser(user)
	if err != nil {
		return c, err
	}
	no := false
	c.SecurityContext = &corev1.SecurityContext{
		RunAsUser: uid, RunAsGroup: gid, Privileged: &no,
		Capabilities:   &corev1.Capabilities{Drop: droppedCaps},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	return c, nil
}

// literal escapes ss from Kubernetes' expansion of $(VAR) in a
// container's command, arguments and environment ("$$" is "$"), so that
// they reach the container as given, as with Docker.
func literal(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ReplaceAll(s, "$", "$$")
	}
	return out
}

// envVars are the KEY=value pairs of env, as given; a KEY without a value
// is left out.
func envVars(env []string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out = append(out, corev1.EnvVar{Name: k, Value: strings.ReplaceAll(v, "$", "$$")})
		}
	}
	return out
}

// numericUser reads "uid", "uid:gid" or root; "" is the image's user.
func numericUser(user string) (uid, gid *int64, err error) {
	if user == "" {
		return nil, nil, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	id := func(s string) (*int64, error) {
		if s == "root" {
			s = "0"
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("user %q: the Kubernetes executor runs containers as numeric user and group ids only (Kubernetes does not look names up in the image): give the ids (\"1000\" or \"1000:1000\")", user)
		}
		return &n, nil
	}
	if uid, err = id(u); err != nil || !hasGroup {
		return uid, nil, err
	}
	gid, err = id(g)
	return uid, gid, err
}

// pullPolicy is Never for the images scripts/k3s.sh imports into the
// nodes (the toolbox, BuildKit), else Always: a tag such as NAME:test
// names a new image in each build.
func (x *Executor) pullPolicy(image string) corev1.PullPolicy {
	if image == x.opts.Toolbox || image == x.opts.BuildKit {
		return corev1.PullNever
	}
	return corev1.PullAlways
}

// imageMeta is the metadata of a pod of kind running an image with the
// given labels: those Kubernetes accepts as labels (values with other
// characters made "_"), and all of them as given in an annotation when
// one had to change.
func (x *Executor) imageMeta(ctx context.Context, name, kind string, given map[string]string) metav1.ObjectMeta {
	safe := safeLabels(given)
	safe[labelKind] = kind
	meta := metaFor(ctx, name, safe)
	meta.Annotations = map[string]string{}
	for k, v := range given {
		if safe[k] != v {
			b, _ := json.Marshal(given)
			meta.Annotations[annotationLabels] = string(b)
			break
		}
	}
	return meta
}

var notLabelChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// safeLabels are the labels Kubernetes accepts of l: keys it refuses are
// left out, characters a value may not have become "_", and values are
// cut as labels() cuts them.
func safeLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l)+2)
	for k, v := range l {
		if len(validation.IsQualifiedName(k)) > 0 {
			continue
		}
		out[k] = labelValue(notLabelChars.ReplaceAllString(v, "_"))
	}
	return out
}

// Run runs spec as the container "main" of a pod of its own, streams its
// output to log, waits until it ends or has stayed up for spec.StayUp
// (counted from its start, image pull excluded; then the pod is deleted
// at once: Exited false), and deletes the pod whatever happens.
func (x *Executor) Run(ctx context.Context, spec pipeline.RunSpec, log io.Writer) (pipeline.RunResult, error) {
	c, err := x.imageContainer(ctx, spec.Image, nil, spec.Cmd, spec.Env, "", "")
	if err != nil {
		return pipeline.RunResult{}, fmt.Errorf("running %s: %w", spec.Image, err)
	}
	name := podName("run")
	pod := &corev1.Pod{ObjectMeta: x.imageMeta(ctx, name, "run", spec.Labels), Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{c},
	}}
	if _, err := x.createPod(ctx, pod); err != nil {
		return pipeline.RunResult{}, fmt.Errorf("starting container from %s: %w", spec.Image, err)
	}
	defer x.deletePod(name)
	if _, err := x.waitPod(ctx, name, started(mainContainer, cannotStartImage(spec.Image))); err != nil {
		return pipeline.RunResult{}, err
	}
	finish := x.follow(ctx, name, mainContainer, orDiscard(log))
	defer finish()
	wctx := ctx
	if spec.StayUp > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, spec.StayUp)
		defer cancel()
	}
	p, err := x.waitPod(wctx, name, terminated(mainContainer))
	switch {
	case err != nil && ctx.Err() == nil && wctx.Err() != nil:
		// Staying up was all there was to see.
		return pipeline.RunResult{Exited: false}, x.deletePod(name)
	case err != nil:
		return pipeline.RunResult{}, fmt.Errorf("waiting for container %s: %w", name, err)
	}
	st, _ := stateOf(p, mainContainer)
	return pipeline.RunResult{Exited: true, ExitCode: int(st.Terminated.ExitCode)}, nil
}

// RemoveContainersOf deletes every pod of Hoist's with a container of
// image, but the pods named in except. Scripts of projects get no access
// to the cluster, so these are only what Hoist itself started.
func (x *Executor) RemoveContainersOf(ctx context.Context, image string, except ...string) (int, error) {
	list, err := x.cs.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy})
	if err != nil {
		return 0, fmt.Errorf("listing the pods of %s: %w", image, err)
	}
	ref, n := x.Ref(image), 0
	for _, p := range list.Items {
		for _, c := range p.Spec.Containers {
			if c.Image != ref || p.DeletionTimestamp != nil || slices.Contains(except, p.Name) {
				continue
			}
			if err := x.deletePod(p.Name); err != nil {
				return n, err
			}
			n++
			break
		}
	}
	return n, nil
}

// WaitContainer waits until the container has ended and returns its exit
// code.
func (x *Executor) WaitContainer(ctx context.Context, id string) (int, error) {
	p, err := x.waitPod(ctx, id, terminated(mainContainer))
	if err != nil {
		return 0, fmt.Errorf("waiting for container %s: %w", id, err)
	}
	st, _ := stateOf(p, mainContainer)
	return int(st.Terminated.ExitCode), nil
}

// probeScript runs in the keeper, in the pod's network namespace: it dials
// the pod's IP (as the pod's neighbours do; a port bound to 127.0.0.1 only
// does not answer there) on each port of its arguments and names those
// that accept. busybox's nc has no -z; with -e it runs true once connected.
const probeScript = `a=$1; shift
for p in "$@"; do
	if nc -w 1 "$a" "$p" -e /bin/true 2>/dev/null; then echo "open $p"; fi
done
echo done
`

// ProbePorts tries each port once from the container's keeper, on the
// pod's IP. A container that does not run is an error.
func (x *Executor) ProbePorts(ctx context.Context, id string, ports []int) ([]int, error) {
	p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, id, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("probing container %s: %w", id, err)
	}
	if st, _ := stateOf(p, mainContainer); st.Running == nil || p.Status.PodIP == "" {
		return nil, fmt.Errorf("probing container %s: it is not running: %s", id, podReason(p))
	}
	if len(ports) == 0 {
		return nil, nil
	}
	cmd := []string{"sh", "-c", probeScript, "probe", p.Status.PodIP}
	for _, port := range ports {
		cmd = append(cmd, strconv.Itoa(port))
	}
	var out, stderr bytes.Buffer
	code, err := x.exec(ctx, id, keeper, cmd, nil, &out, &stderr)
	if err == nil && (code != 0 || !bytes.HasSuffix(out.Bytes(), []byte("done\n"))) {
		err = fmt.Errorf("the probe exited with status %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return nil, fmt.Errorf("probing container %s: %w", id, err)
	}
	var open []int
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "open "); ok {
			if n, err := strconv.Atoi(v); err == nil {
				open = append(open, n)
			}
		}
	}
	return open, nil
}

var _ pipeline.Execer = (*Executor)(nil)

// Exec runs cmd in the container's pod, in the container that runs the
// image (kubectl exec), and returns its exit status. A container that does
// not run is an error.
func (x *Executor) Exec(ctx context.Context, id string, cmd []string, log io.Writer) (int, error) {
	p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, id, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("running %q in container %s: %w", cmd, id, err)
	}
	if st, _ := stateOf(p, mainContainer); st.Running == nil {
		return 0, fmt.Errorf("running %q in container %s: it is not running: %s", cmd, id, podReason(p))
	}
	// stdout and stderr arrive on streams of their own, at once.
	w := &lockedWriter{w: io.Discard}
	if log != nil {
		w.w = log
	}
	code, err := x.exec(ctx, id, mainContainer, cmd, nil, w, w)
	if err != nil {
		return 0, fmt.Errorf("running %q in container %s: %w", cmd, id, err)
	}
	return code, nil
}

// lockedWriter serializes the writes of several goroutines to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// RemoveContainer deletes the container's pod at once; one that does not
// exist is not an error.
func (x *Executor) RemoveContainer(_ context.Context, id string) error {
	return x.deletePod(id)
}

// CreateNetwork makes nothing in the cluster: a network is a label its
// pods carry (see StartContainer). It returns a new id.
func (x *Executor) CreateNetwork(ctx context.Context, name string, _ map[string]string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("creating network %s: %w", name, context.Cause(ctx))
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "hoist-net-" + hex.EncodeToString(b[:]), nil
}

// RemoveNetwork has nothing to remove: the containers of a network are
// removed by those who started them.
func (x *Executor) RemoveNetwork(context.Context, string) error { return nil }
