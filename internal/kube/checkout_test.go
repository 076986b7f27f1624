package kube

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// gitImage is the git image scripts/k3s.sh imported into the node.
func gitImage(t *testing.T) string { return nodeImage(t, "hoist-git:") }

// checkoutFixture is a repository with a submodule and two commits on
// main, served with the submodule on the node's address, which pods
// reach.
type checkoutFixture struct {
	ip, root, url  string
	first, second  string
	user, password string
}

func newCheckoutFixture(t *testing.T) checkoutFixture {
	t.Helper()
	f := checkoutFixture{ip: testenv.NodeIP(t), user: "alice", password: "pa55-in-the-url"}
	sub := testenv.GitRepo(t, map[string]string{"lib.txt": "library\n"})
	subURL := testenv.GitHTTPServerOn(t, f.ip, filepath.Dir(sub), "", "") + "/repo"
	repo := testenv.GitRepo(t, map[string]string{"version": "1\n", "Dockerfile": "FROM scratch\n", "run.sh": "#!/bin/sh\necho hi\n"})
	f.first = testenv.Git(t, repo, "rev-parse", "HEAD")
	testenv.Git(t, repo, "submodule", "--quiet", "add", subURL, "lib")
	f.second = testenv.Commit(t, repo, map[string]string{"version": "2\n"}, "second, with lib")
	f.root = filepath.Dir(repo)
	f.url = testenv.GitHTTPServerOn(t, f.ip, f.root, "", "") + "/repo"
	return f
}

// podCheckout is source.Git's checkout running its git through run, as
// cmd/hoist wires it; spy, when set, sees the pod first.
func podCheckout(x *Executor, spy func(*corev1.Pod)) GitCheckout {
	return func(ctx context.Context, run GitRunner, url, branch, dir string, log io.Writer) (string, error) {
		if spy != nil {
			p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, run.(podGit).pod, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			spy(p)
		}
		return (&source.Git{Runner: run}).Checkout(ctx, url, branch, dir, log)
	}
}

func newCheckoutExecutor(t *testing.T) *Executor {
	t.Helper()
	x := newTestExecutor(t, "127.0.0.1:1")
	x.opts.Git = gitImage(t)
	return x
}

func TestCheckoutInAPod(t *testing.T) {
	x := newCheckoutExecutor(t)
	f := newCheckoutFixture(t)
	ctx := testCtx(t, 21)
	var pod *corev1.Pod
	src := x.Source(podCheckout(x, func(p *corev1.Pod) { pod = p }), source.New())

	dir := filepath.Join(t.TempDir(), "checkout")
	log := newLockedBuffer()
	start := time.Now()
	commit, err := src.Checkout(ctx, f.url, "main", dir, log)
	inPod := time.Since(start)
	if err != nil || commit != f.second {
		t.Fatalf("Checkout = %s, %v; want %s\nlog:\n%s", commit, err, f.second, log)
	}
	for name, want := range map[string]string{"version": "2\n", "lib/lib.txt": "library\n", "run.sh": "#!/bin/sh\necho hi\n"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh: %v; want it executable, as committed", err)
	}
	// The copy is a git checkout the host's git reads.
	if got := testenv.Git(t, dir, "rev-parse", "HEAD"); got != f.second {
		t.Errorf("git rev-parse HEAD in the copy = %s; want %s", got, f.second)
	}
	if !strings.Contains(log.String(), "checking out in pod "+x.ns+"/hoist-checkout-") || !strings.Contains(log.String(), "$ git clone") {
		t.Errorf("log does not say the pod and git's commands:\n%s", log)
	}
	if got := podsOf(t, x, "checkout"); len(got) != 0 {
		t.Errorf("pods left: %v", got)
	}
	checkConfined(t, x, ctx, pod)

	hostDir := filepath.Join(t.TempDir(), "checkout")
	start = time.Now()
	if _, err := source.New().Checkout(ctx, f.url, "main", hostDir, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Logf("checkout of a small repository with a submodule: %s in a pod, %s on the host", inPod.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	t.Run("commit", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "checkout")
		commit, err := src.Checkout(ctx, f.url, f.first, dir, io.Discard)
		if err != nil || commit != f.first {
			t.Fatalf("Checkout(%s) = %s, %v", f.first, commit, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "version")); err != nil || string(b) != "1\n" {
			t.Errorf("version = %q, %v; want the first commit's", b, err)
		}
	})

	t.Run("missing repository", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "checkout")
		log := newLockedBuffer()
		_, err := src.Checkout(ctx, strings.TrimSuffix(f.url, "/repo")+"/missing", "main", dir, log)
		if !errors.Is(err, source.ErrRepoNotFound) {
			t.Errorf("Checkout of a missing repository: %v; want ErrRepoNotFound\nlog:\n%s", err, log)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("checkout folder after a failure: %v; want none", err)
		}
		if got := podsOf(t, x, "checkout"); len(got) != 0 {
			t.Errorf("pods left: %v", got)
		}
	})

	t.Run("no git image", func(t *testing.T) {
		y := *x
		y.opts.Git = "hoist-git:not-on-the-node"
		tctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err := y.Source(podCheckout(&y, nil), source.New()).Checkout(tctx, f.url, "main", filepath.Join(t.TempDir(), "checkout"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "ErrImageNeverPull") || !strings.Contains(err.Error(), "--k8s-git-image") {
			t.Errorf("err = %v; want the git image missing from the node said", err)
		}
		if got := podsOf(t, x, "checkout"); len(got) != 0 {
			t.Errorf("pods left: %v", got)
		}
	})

	t.Run("missing branch", func(t *testing.T) {
		_, err := src.Checkout(ctx, f.url, "nope", filepath.Join(t.TempDir(), "checkout"), io.Discard)
		if !errors.Is(err, source.ErrRefNotFound) || !strings.Contains(err.Error(), "the branches there are: main") {
			t.Errorf("Checkout of a missing branch: %v; want ErrRefNotFound listing main", err)
		}
	})
}

// checkConfined checks the pod a checkout ran git in.
func checkConfined(t *testing.T, x *Executor, ctx context.Context, p *corev1.Pod) {
	t.Helper()
	if p == nil {
		t.Fatal("the checkout made no pod")
	}
	if p.Labels[LabelManagedBy] != ManagedBy || p.Labels[pipeline.LabelBuild] != "21" || p.Labels[labelKind] != "checkout" {
		t.Errorf("labels %v; want managed-by hoist, the build's, kind checkout", p.Labels)
	}
	s := p.Spec
	if s.HostNetwork || s.HostPID || s.HostIPC || *s.AutomountServiceAccountToken || s.ActiveDeadlineSeconds == nil {
		t.Errorf("pod: hostNetwork %v hostPID %v hostIPC %v token %v deadline %v; want the pod network, no token, a deadline",
			s.HostNetwork, s.HostPID, s.HostIPC, *s.AutomountServiceAccountToken, s.ActiveDeadlineSeconds)
	}
	if len(s.Containers) != 1 {
		t.Fatalf("containers %d; want 1", len(s.Containers))
	}
	c := s.Containers[0]
	sc := c.SecurityContext
	if *sc.RunAsUser != SandboxUID || !*sc.RunAsNonRoot || *sc.Privileged || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 {
		t.Errorf("git's container: %+v; want uid %d, unprivileged, read-only, no capability", sc, SandboxUID)
	}
	if got, want := c.Resources.Limits.Memory().Value(), x.limits(ctx).Memory; got != want {
		t.Errorf("git's memory limit %d; want %d", got, want)
	}
	for _, v := range s.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a host path", v.Name)
		}
	}
}

func TestCheckoutInAPodWithCredentials(t *testing.T) {
	x := newCheckoutExecutor(t)
	f := newCheckoutFixture(t)
	ctx := testCtx(t, 22)
	src := x.Source(podCheckout(x, nil), source.New())
	base := testenv.GitHTTPServerOn(t, f.ip, f.root, f.user, f.password)

	log := newLockedBuffer()
	_, err := src.Checkout(ctx, base+"/repo", "main", filepath.Join(t.TempDir(), "checkout"), log)
	if !errors.Is(err, source.ErrAuthRequired) {
		t.Errorf("Checkout without credentials: %v; want ErrAuthRequired\nlog:\n%s", err, log)
	}
	if !strings.Contains(log.String(), "--k8s-checkout host") {
		t.Errorf("log does not say how to check out with the host's credentials:\n%s", log)
	}

	url := strings.Replace(base, "://", "://"+f.user+":"+f.password+"@", 1) + "/repo"
	dir := filepath.Join(t.TempDir(), "checkout")
	log = newLockedBuffer()
	commit, err := src.Checkout(ctx, url, "main", dir, log)
	if err != nil || commit != f.second {
		t.Fatalf("Checkout with credentials = %s, %v; want %s\nlog:\n%s", commit, err, f.second, log)
	}
	if strings.Contains(log.String(), f.password) || !strings.Contains(log.String(), f.user+":***@") {
		t.Errorf("log does not redact the password:\n%s", log)
	}
	b, err := os.ReadFile(filepath.Join(dir, ".git", "config"))
	if err != nil || strings.Contains(string(b), f.password) || !strings.Contains(string(b), f.ip) {
		t.Errorf(".git/config: %v\n%s\nwant the origin without the password", err, b)
	}
}

func TestCheckoutInAPodCancel(t *testing.T) {
	x := newCheckoutExecutor(t)
	ctx := testCtx(t, 23)
	// A server on the node's address that never answers: git hangs.
	l, err := net.Listen("tcp", net.JoinHostPort(testenv.NodeIP(t), "0"))
	if err != nil {
		t.Fatal(err)
	}
	reached := make(chan struct{}, 1)
	hang := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reached <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	})}}
	hang.Start()
	t.Cleanup(hang.Close)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := x.Source(podCheckout(x, nil), source.New()).Checkout(cctx, hang.URL+"/repo", "main", filepath.Join(t.TempDir(), "checkout"), io.Discard)
		done <- err
	}()
	select {
	case <-reached:
	case err := <-done:
		t.Fatalf("Checkout ended before git reached the server: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("git in the pod did not reach the server within 2 minutes")
	}
	if got := podsOf(t, x, "checkout"); len(got) != 1 {
		t.Fatalf("checkout pods %v; want one running", got)
	}
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Checkout did not return within 10 s of the cancel")
	}
	// 5 s, with room for a loaded machine: the delete is one API call.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Checkout returned %v after the cancel", d)
	} else {
		t.Logf("Checkout returned %v after the cancel, its pod deleted", d.Round(time.Millisecond))
	}
	if got := podsOf(t, x, "checkout"); len(got) != 0 {
		t.Errorf("pods left after the cancel: %v", got)
	}
}

// TestCheckoutOnTheHost: what a pod cannot reach is checked out on the
// host, saying so; no pod is made.
func TestCheckoutOnTheHost(t *testing.T) {
	x := newCheckoutExecutor(t)
	ctx := testCtx(t, 24)
	repo := testenv.GitRepo(t, map[string]string{"version": "1\n"})
	want := testenv.Git(t, repo, "rev-parse", "HEAD")
	var pods int
	src := x.Source(podCheckout(x, func(*corev1.Pod) { pods++ }), source.New())
	for _, tc := range []struct{ url, why string }{
		{testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo", "is a loopback address, which in a pod is the pod's own"},
		{"file://" + repo, "a file: URL names files of Hoist's host"},
		{repo, "a local path names files of Hoist's host"},
	} {
		log := newLockedBuffer()
		commit, err := src.Checkout(ctx, tc.url, "main", filepath.Join(t.TempDir(), "checkout"), log)
		if err != nil || commit != want {
			t.Errorf("Checkout(%s) = %s, %v; want %s\nlog:\n%s", tc.url, commit, err, want, log)
		}
		if first, _, _ := strings.Cut(log.String(), "\n"); !strings.HasPrefix(first, "checking out on Hoist's host, not in a pod: ") || !strings.Contains(first, tc.why) {
			t.Errorf("Checkout(%s): log's first line %q; want it to say why on the host: %s", tc.url, first, tc.why)
		}
	}
	if pods != 0 {
		t.Errorf("%d checkouts ran in pods; want none", pods)
	}
}

func TestCheckoutHostOnly(t *testing.T) {
	for url, want := range map[string]bool{
		"/srv/repo": true, "repo": true, "./repo": true, "file:///srv/repo": true, "FILE:///srv/repo": true,
		"http://127.0.0.1:8080/repo": true, "https://localhost/repo": true, "http://user:pw@127.0.0.2/x": true,
		"ssh://git@[::1]/repo": true, "git@localhost:repo.git": true, "http://0.0.0.0:1/r": true, "http://app.localhost/r": true,
		"https://git.example.com/repo": false, "http://10.42.0.1:3000/repo": false, "git://git.example.com/repo": false,
		// ssh: the host's keys.
		"git@github.com:org/repo.git": true, "ssh://git@192.0.2.2:22/repo": true, "SSH://git@example.com/r": true, "git+ssh://git@example.com/r": true,
	} {
		if got := hostOnly(url) != ""; got != want {
			t.Errorf("hostOnly(%q) = %q; want on the host: %v", url, hostOnly(url), want)
		}
	}
}
