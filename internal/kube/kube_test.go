package kube

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// newTestExecutor is an Executor on the test cluster, in a namespace of
// the test's own, storing local names in reg.
func newTestExecutor(t *testing.T, reg string) *Executor {
	t.Helper()
	kubeconfig, ns := testenv.Kube(t)
	x, err := New(t.Context(), kubeconfig, Options{Namespace: ns, Registry: reg, Insecure: true, Toolbox: toolboxImage(t), BuildKit: buildkitImage(t)})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExecInAPod(t *testing.T) {
	x := newTestExecutor(t, "127.0.0.1:1")
	ctx := pipeline.WithOwner(t.Context(), pipeline.Owner{Instance: "kubetest", Build: 3})
	name := podName("exec")
	uid := int64(1000)
	_, err := x.createPod(ctx, &corev1.Pod{
		ObjectMeta: metaFor(ctx, name, nil),
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "main", Image: x.opts.Toolbox, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sleep", "600"}, SecurityContext: confined(&uid), Resources: resources(x.limits(ctx)),
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer x.deletePod(name)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p, err := x.waitPod(wctx, name, running())
	if err != nil {
		t.Fatalf("waiting for the pod: %v", err)
	}
	if d := p.Spec.ActiveDeadlineSeconds; d == nil || *d != int64(podDeadline.Seconds())+60 {
		t.Errorf("activeDeadlineSeconds %v; want %d for a ctx without a deadline", d, int64(podDeadline.Seconds())+60)
	}
	if p.Labels[LabelManagedBy] != ManagedBy || p.Labels[pipeline.LabelBuild] != "3" {
		t.Errorf("labels %v; want managed-by hoist and the build", p.Labels)
	}
	var out, errOut bytes.Buffer
	code, err := x.exec(ctx, name, "main", []string{"sh", "-c", "cat; id -u; echo oops >&2; exit 4"}, strings.NewReader("in\n"), &out, &errOut)
	if err != nil || code != 4 || out.String() != "in\n1000\n" || errOut.String() != "oops\n" {
		t.Errorf("exec: %d, %v, stdout %q, stderr %q; want 4, stdin echoed, uid 1000, oops", code, err, out.String(), errOut.String())
	}
}

// TestNewMakesAMissingNamespace: a namespace that does not exist is made
// (the test cluster's account may), labelled as Hoist's.
func TestNewMakesAMissingNamespace(t *testing.T) {
	kubeconfig, ns := testenv.Kube(t)
	missing := ns + "-new"
	x, err := New(t.Context(), kubeconfig, Options{Namespace: missing})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = x.cs.CoreV1().Namespaces().Delete(context.Background(), missing, metav1.DeleteOptions{})
	})
	got, err := x.cs.CoreV1().Namespaces().Get(t.Context(), missing, metav1.GetOptions{})
	if err != nil || got.Labels[LabelManagedBy] != ManagedBy {
		t.Errorf("namespace %s: %+v, %v; want it made, managed by hoist", missing, got.Labels, err)
	}
}
