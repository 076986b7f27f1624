package kube

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RUN steps' network.
//
// buildkitd shares the node's network namespace (it pushes to a registry
// on the node's loopback), but the RUN steps of a project's Dockerfile,
// code of people the operator may not know, must not: they get a network
// namespace each from BuildKit's CNI network (--oci-worker-net=cni) with
// the ptp plugin, as containers on Docker's bridge do. What listens on the
// node's 127.0.0.1 (the API server, the kubelet, the embedded registry)
// is out of their reach; the node's other addresses are not (as from
// Docker's bridge).
//
// Why ptp and not BuildKit's bridge mode: the pod is deleted at once
// (SIGKILL, no teardown), and with hostNetwork whatever the plugins make
// is the node's. A bridge device and the bridge and firewall plugins'
// iptables chains (per-container masquerading, CNI-FORWARD) would be left
// on the node after every build. ptp makes a veth pair per namespace and
// a route to it, both gone with the namespace when buildkitd dies, and,
// with ipMasq off, no iptables rule at all. The masquerading of
// BuildNetwork to the outside and the FORWARD rules letting it through are
// the node's, set once (scripts/k3s.sh up does; see deploy's README for
// other clusters).
//
// Each buildkitd pod gets its own slice of BuildNetwork (the IPAM of ptp
// is per pod, in its emptyDir): two pods on one node must not hand out
// the same address.
const (
	// BuildNetwork holds the addresses of RUN steps on every node.
	BuildNetwork = "10.44.0.0/16"
	// buildSlices is how many /26 slices of it there are, one per
	// buildkitd pod (62 addresses: RUN steps running at once in a build).
	buildSlices = 1024
	// buildSliceLabel labels a buildkitd pod with its slice.
	buildSliceLabel = "hoist.dev/build-net-slice"
	// buildkitCNIKey is the pod annotation holding the CNI network
	// (cni.json, beside buildkitd.toml).
	buildkitCNIKey = "hoist.dev/buildkit-cni.json"
	// buildkitCNIDir is where the image has the CNI plugins.
	buildkitCNIDir = "/opt/cni/bin"
)

// buildSliceMu keeps the slices chosen in this process apart: it is held
// from the choice until the pod is made.
var buildSliceMu sync.Mutex

// freeBuildSlice picks, at random, a slice of BuildNetwork that no
// buildkitd pod of the namespace has. Hold buildSliceMu until the pod that
// takes it is made. Pods of another namespace (another Hoist) on the same
// node are not seen: one of them may draw the same slice, once in 1024
// times, and a RUN step then fails with a CNI error (a route that exists).
func (x *Executor) freeBuildSlice(ctx context.Context) (int, error) {
	pods, err := x.cs.CoreV1().Pods(x.ns).List(ctx, metav1.ListOptions{LabelSelector: buildSliceLabel})
	if err != nil {
		return 0, fmt.Errorf("listing the BuildKit pods of namespace %s: %w", x.ns, err)
	}
	used := map[int]bool{}
	for _, p := range pods.Items {
		if n, err := strconv.Atoi(p.Labels[buildSliceLabel]); err == nil {
			used[n] = true
		}
	}
	if len(used) >= buildSlices {
		return 0, fmt.Errorf("namespace %s has %d BuildKit pods: no slice of %s is left for another build", x.ns, len(used), BuildNetwork)
	}
	for {
		if n := rand.IntN(buildSlices); !used[n] {
			return n, nil
		}
	}
}

// buildCNIConfig is the CNI network of a buildkitd pod's RUN steps, on
// slice n of BuildNetwork: 10.44.A.B/26 where A.B = n*64.
func buildCNIConfig(n int) string {
	off := n * 64
	subnet := fmt.Sprintf("10.44.%d.%d/26", off/256, off%256)
	return `{
  "cniVersion": "1.0.0",
  "name": "hoist-buildkit",
  "type": "ptp",
  "ipMasq": false,
  "ipam": {
    "type": "host-local",
    "dataDir": "` + buildkitRoot + `/cni-ipam",
    "ranges": [[{"subnet": "` + subnet + `"}]],
    "routes": [{"dst": "0.0.0.0/0"}]
  }
}
`
}

// buildkitEnded says whether buildkitd in pod has ended, with its last
// words.
func (x *Executor) buildkitEnded(pod string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return false, ""
	}
	for _, s := range p.Status.ContainerStatuses {
		if t := s.State.Terminated; t != nil && s.Name == "buildkitd" {
			return true, strings.TrimSpace(t.Message)
		}
	}
	return false, ""
}

// errNoCNI is buildkitd's ending for want of CNI plugins in its image.
var errNoCNI = errors.New("the BuildKit image has no CNI plugins")

// lacksCNI says whether buildkitd's last words say its image has no CNI
// plugins (in buildkitCNIDir, or not the ones BuildKit's network needs).
func lacksCNI(msg string) bool {
	return strings.Contains(msg, buildkitCNIDir) &&
		(strings.Contains(msg, "no such file") || strings.Contains(msg, "failed to find plugin"))
}
