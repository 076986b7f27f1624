package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Reap deletes every pod of the namespace that carries all of labels
// (their values made Kubernetes labels as StartContainer makes them) and
// counts them in Reaped.Containers. Networks are no objects of the cluster
// (see CreateNetwork), so none are counted; nor are images: the images
// Hoist keeps under hoist-local/ in the registry are removed by
// RemoveImage. A pod deleted meanwhile by someone else is not an error.
func (x *Executor) Reap(ctx context.Context, labels map[string]string) (pipeline.Reaped, error) {
	var n pipeline.Reaped
	if len(labels) == 0 {
		return n, errors.New("reaping: no labels to select by")
	}
	list, err := x.cs.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{LabelSelector: selector(labels)})
	if err != nil {
		return n, fmt.Errorf("listing the pods labelled %v: %w", labels, err)
	}
	zero := int64(0)
	var errs []error
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue // being deleted already
		}
		err := x.cs.CoreV1().Pods(x.ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		switch {
		case err == nil:
			n.Containers++
		case !apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("deleting pod %s/%s: %w", x.ns, p.Name, err))
		}
	}
	return n, errors.Join(errs...)
}

// selector selects what carries every one of labels, as safeLabels writes
// them.
func selector(labels map[string]string) string {
	var terms []string
	for k, v := range labels {
		terms = append(terms, k+"="+labelValue(notLabelChars.ReplaceAllString(v, "_")))
	}
	sort.Strings(terms)
	return strings.Join(terms, ",")
}
