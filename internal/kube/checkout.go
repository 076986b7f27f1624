package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"os"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/hoistci/hoist/internal/pipeline"
)

// DefaultGit is the image checkouts run git in, as scripts/k3s.sh tags it
// on the node.
const DefaultGit = "hoist-git:latest"

// GitRunner runs git for a checkout's logic (source.Runner): in a pod,
// here.
type GitRunner interface {
	// Run runs git with args in the folder dir ("" for the container's
	// working folder), with env added to its environment, its output to
	// stdout and stderr, and returns nil when it exited with status 0,
	// else an error saying how it ended ("exit status 128").
	Run(ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer) error
}

// GitCheckout is a checkout's logic (cmd/hoist gives source.Git's): it
// checks url out at branch into dir, an empty folder where run runs git,
// and returns the commit, as pipeline.Source.Checkout does.
type GitCheckout func(ctx context.Context, run GitRunner, url, branch, dir string, log io.Writer) (commit string, err error)

// Source returns the checkout stage on Kubernetes: each checkout runs its
// git commands (inPod) in a pod of its own, confined as sandboxed scripts
// are (uid SandboxUID, no capability, no privilege, a read-only root, no
// service-account token, the build's limits, a deadline) on the pod
// network, in Options.Git, and the tree it checked out is copied to the
// host's folder, as the sandbox copies a workspace back; the pod is
// deleted when the checkout ends or ctx does. What a pod cannot reach is
// checked out by host, with a line in the log saying why: local paths and
// file:// URLs (the host's files), URLs whose host is loopback (a pod's
// loopback is its own) and ssh addresses (the host's keys). A pod has
// none of the host's git credential helpers: a token in the URL works.
func (x *Executor) Source(inPod GitCheckout, host pipeline.Source) pipeline.Source {
	return &podSource{x: x, git: inPod, host: host}
}

type podSource struct {
	x    *Executor
	git  GitCheckout
	host pipeline.Source
}

// gitContainer is the container of a checkout's pod: git runs in it, and
// it holds the workspace; checkoutDir is the checkout's folder there.
const (
	gitContainer = "git"
	checkoutDir  = WorkspaceMount + "/src"
)

// Checkout checks url out at branch into dir; see Source.
func (s *podSource) Checkout(ctx context.Context, url, branch, dir string, log io.Writer) (string, error) {
	log = orDiscard(log)
	if why := hostOnly(url); why != "" {
		fmt.Fprintf(log, "checking out on Hoist's host, not in a pod: %s\n", why)
		return s.host.Checkout(ctx, url, branch, dir, log)
	}
	if err := pipeline.CheckoutDirReady(dir); err != nil {
		return "", err
	}
	name := podName("checkout")
	if _, err := s.x.createPod(ctx, s.x.checkoutPod(ctx, name)); err != nil {
		return "", fmt.Errorf("checking out %s: %w", pipeline.RedactURL(url), err)
	}
	defer s.x.deletePod(name)
	if _, err := s.x.waitPod(ctx, name, started(gitContainer, s.cannotStart)); err != nil {
		return "", fmt.Errorf("checking out %s: %w", pipeline.RedactURL(url), err)
	}
	fmt.Fprintf(log, "checking out in pod %s/%s\n", s.x.ns, name)
	// A folder of git's user: git refuses a repository someone else owns
	// (the emptyDir's root is root's).
	if err := s.x.mkdir(ctx, name, checkoutDir); err != nil {
		return "", fmt.Errorf("checking out %s: %w", pipeline.RedactURL(url), err)
	}
	commit, err := s.git(ctx, podGit{x: s.x, pod: name}, url, branch, checkoutDir, log)
	if err != nil {
		if errors.Is(err, pipeline.ErrAuthRequired) {
			fmt.Fprintln(log, "git ran in a pod, which has none of the git credentials of Hoist's host (credential helpers): give the URL a token, or check out on the host with --k8s-checkout host")
		}
		return "", err
	}
	if err := s.copyOut(ctx, name, dir); err != nil {
		return "", fmt.Errorf("checking out %s: %w", pipeline.RedactURL(url), err)
	}
	return commit, nil
}

// copyOut copies the pod's checkout into dir, which is removed when that
// fails.
func (s *podSource) copyOut(ctx context.Context, pod, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the checkout folder: %w", err)
	}
	if err := s.x.copyOutOf(ctx, pod, gitContainer, checkoutDir, dir); err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	return nil
}

// mkdir makes the folder dir in the pod's git container.
func (x *Executor) mkdir(ctx context.Context, pod, dir string) error {
	var stderr bytes.Buffer
	code, err := x.exec(ctx, pod, gitContainer, []string{"mkdir", "--", dir}, nil, io.Discard, &stderr)
	if err == nil && code != 0 {
		err = fmt.Errorf("mkdir %s in pod %s exited with status %d: %s", dir, pod, code, strings.TrimSpace(stderr.String()))
	}
	return err
}

// cannotStart is the error of a checkout's pod that cannot start.
func (s *podSource) cannotStart(w *corev1.ContainerStateWaiting) error {
	return fmt.Errorf("its pod cannot start (%s: %s): the image %s, which has git, must be on every node (scripts/k3s.sh up imports it; --k8s-git-image names another)",
		w.Reason, w.Message, s.x.opts.Git)
}

// checkoutPod is the pod a checkout runs git in: one container that
// sleeps, in which Hoist execs git and tar.
func (x *Executor) checkoutPod(ctx context.Context, name string) *corev1.Pod {
	uid := int64(SandboxUID)
	yes := true
	sc := confined(&uid)
	sc.RunAsGroup = &uid
	sc.ReadOnlyRootFilesystem = &yes
	return &corev1.Pod{
		ObjectMeta: metaFor(ctx, name, map[string]string{labelKind: "checkout"}),
		Spec: corev1.PodSpec{
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, FSGroup: &uid},
			Volumes:         checkoutVolumes(),
			Containers: []corev1.Container{{
				Name: gitContainer, Image: x.opts.Git, ImagePullPolicy: corev1.PullNever,
				Command:         []string{"sleep", "2147483647"},
				Env:             envVars([]string{"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}),
				SecurityContext: sc,
				Resources:       resources(x.limits(ctx)),
				VolumeMounts: []corev1.VolumeMount{
					{Name: volWorkspace, MountPath: WorkspaceMount},
					{Name: volTmp, MountPath: "/tmp"},
				},
			}},
		},
	}
}

// checkoutVolumes are the workspace and /tmp of workspaceVolumes.
func checkoutVolumes() []corev1.Volume {
	var vs []corev1.Volume
	for _, v := range workspaceVolumes() {
		if v.Name == volWorkspace || v.Name == volTmp {
			vs = append(vs, v)
		}
	}
	return vs
}

// podGit runs git in the git container of a checkout's pod, through exec.
type podGit struct {
	x   *Executor
	pod string
}

// Run runs git; see GitRunner. The exec API takes no environment nor
// working folder: env(1) sets the one, git -C the other.
func (g podGit) Run(ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer) error {
	cmd := append(append([]string{"env"}, env...), "git")
	if dir != "" {
		cmd = append(cmd, "-C", dir)
	}
	cmd = append(cmd, args...)
	// exec copies stdout and stderr at once, and they may be one writer;
	// when ctx ends it returns while it may still copy: nothing is
	// written after Run returns.
	o := &outputs{}
	code, err := g.x.exec(ctx, g.pod, gitContainer, cmd, nil, o.writer(stdout), o.writer(stderr))
	o.close()
	switch {
	case err != nil:
		return err
	case code != 0:
		return fmt.Errorf("exit status %d", code)
	}
	return nil
}

// outputs are writers that take turns, and write nothing once closed.
type outputs struct {
	mu     sync.Mutex
	closed bool
}

func (o *outputs) writer(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.closed || w == nil {
			return len(p), nil
		}
		return w.Write(p)
	})
}

func (o *outputs) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// hostOnly says why url is checked out on Hoist's host rather than in a
// pod, or "" when a pod can reach it.
func hostOnly(url string) string {
	if strings.HasPrefix(strings.ToLower(url), "file:") {
		return "a file: URL names files of Hoist's host, which a pod cannot see"
	}
	if !strings.Contains(url, "://") && !pipeline.IsSCPLike(url) {
		return "a local path names files of Hoist's host, which a pod cannot see"
	}
	if !strings.Contains(url, "://") || strings.HasPrefix(strings.ToLower(url), "ssh://") || strings.HasPrefix(strings.ToLower(url), "git+ssh://") {
		return "git reaches it over ssh, with the keys of Hoist's host, which a pod has not"
	}
	if h := urlHost(url); loopback(h) {
		return fmt.Sprintf("its host %s is a loopback address, which in a pod is the pod's own", h)
	}
	return ""
}

// urlHost is the host a git URL or scp-like address names.
func urlHost(u string) string {
	if strings.Contains(u, "://") {
		if p, err := neturl.Parse(u); err == nil {
			return p.Hostname()
		}
		return ""
	}
	h := u[:strings.IndexByte(u, ':')]
	if at := strings.LastIndexByte(h, '@'); at >= 0 {
		h = h[at+1:]
	}
	if strings.HasPrefix(h, "[") { // [::1]:repo
		if end := strings.IndexByte(u, ']'); end > 0 {
			h = u[strings.IndexByte(u, '[')+1 : end]
		}
	}
	return h
}

// loopback reports whether host names this machine's loopback, or every
// address of it (0.0.0.0, ::).
func loopback(host string) bool {
	ip := net.ParseIP(host)
	return pipeline.IsLoopbackHost(host) || ip != nil && ip.IsUnspecified()
}
