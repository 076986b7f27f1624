package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/kube"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// The Kubernetes executor's benchmarks (issue 12), each against the Docker
// executor in the same run, on the single-node k3s of scripts/k3s.sh (make
// bench brings it up), in a namespace of the benchmark's own, deleted at
// the end:
//
// (k1) the (d) app (busybox httpd FROM a busybox base, a 1 s test-script),
// changed source: `hoist run --only` with --executor kubernetes vs
// --executor docker, every stage from the run's store.
//
// (k2) pod start: a toolbox pod (imagePullPolicy Never) from its create to
// Running, through client-go, vs a container of the same toolbox image from
// its create to its start's return, through the Docker API.
//
// (k3) the (e) batch: 20 such apps changed, `hoist run --workers 2` on
// either executor.

// kubeRounds is how many rounds (k1) and (k3) time: a round on
// Kubernetes takes about 3 times Docker's, and the rows must not add more
// than a few minutes to make bench.
func kubeRounds(rounds int) (k1, k3 int) { return min(rounds, 3), 1 }

// kubeStarts is how many pod starts (k2) times on each side: they are
// cheap.
const kubeStarts = 7

// kubeCluster returns the kubeconfig of scripts/k3s.sh's cluster, or says
// how to start one.
func kubeCluster(ctx context.Context, e *env) (string, error) {
	script := filepath.Join(e.root, "scripts", "k3s.sh")
	if out, err := exec.CommandContext(ctx, script, "status").CombinedOutput(); err != nil {
		return "", fmt.Errorf("no Kubernetes cluster for (k1)-(k3): `scripts/k3s.sh up` (as root) starts one, as make bench does; or leave them out with -only a, b, c, d, g or h (status said: %s)", strings.TrimSpace(string(out)))
	}
	out, err := e.output(ctx, script, "kubeconfig")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

func benchKube(ctx context.Context, e *env, rep *report, kubeconfig string, rounds int) (err error) {
	cs, _, err := kube.Clientset(kubeconfig)
	if err != nil {
		return err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := "hoist-bench-" + hex.EncodeToString(b[:])
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{kube.LabelManagedBy: "hoist-bench"},
	}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	progress("(k) namespace %s of the cluster (%s)", ns, kubeconfig)
	defer func() {
		if derr := deleteNamespace(cs, ns); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	// A registry of (k)'s own: the node pulls from it (a loopback host is
	// reached over plain HTTP), and Docker's side pushes to it too.
	reg, err := e.startRegistry(ctx, "kube")
	if err != nil {
		return err
	}
	k1Rounds, k3Rounds := kubeRounds(rounds)

	dir := filepath.Join(e.tmp, "k")
	progress("(k) writing the base and %d server apps", serverApps)
	idx, repos, err := appsIndex(ctx, e, dir, "k", serverApps)
	if err != nil {
		return err
	}
	e.alias("bench/kbase:latest")
	// Served over git://, so that the Kubernetes side checks out in pods
	// as a user's projects are; a local path it checks out on the host.
	stopGit, err := serveRepos(ctx, filepath.Join(dir, "repos"), filepath.Join(idx, "bench.yaml"))
	if err != nil {
		return err
	}
	defer stopGit()
	hoistBin := filepath.Join(e.root, "bin", "hoist")
	executors := map[string][]string{
		"docker": {"--executor", "docker"},
		"kube":   {"--executor", "kubernetes", "--kubeconfig", kubeconfig, "--k8s-namespace", ns},
	}
	hoistRun := func(who string, extra ...string) *exec.Cmd {
		args := append([]string{"run", "--index", idx, "--data", filepath.Join(dir, "data-"+who), "--registry", reg.addr}, executors[who]...)
		return exec.CommandContext(ctx, hoistBin, append(args, extra...)...)
	}
	order := []string{"kube", "docker"}
	progress("(k) untimed: hoist run builds the base and the %d apps once on each executor", serverApps)
	for _, who := range order {
		d, err := e.timed(ctx, hoistRun(who, "--workers", "2"))
		if err != nil {
			return fmt.Errorf("the untimed run on %s: %w", who, err)
		}
		progress("(k) untimed run on %s: %s", who, fmtDur(d))
	}
	stores := map[string]*sqlite.Store{}
	for _, who := range order {
		st, err := sqlite.Open(ctx, filepath.Join(dir, "data-"+who, "hoist.db"))
		if err != nil {
			return err
		}
		defer st.Close()
		stores[who] = st
	}
	changes := 0
	changeAll := func(repos []string) error {
		changes++
		for _, r := range repos {
			if err := e.change(ctx, r, changes); err != nil {
				return err
			}
		}
		return nil
	}
	apps := make([]string, len(repos))
	for i := range repos {
		apps[i] = fmt.Sprintf("bench/k%d:latest", i+1)
	}

	// (k1): each side builds its own change, the order alternating.
	total := map[string][]time.Duration{}
	stages := map[string]map[pipeline.StageName][]time.Duration{"kube": {}, "docker": {}}
	parts := map[string]*breakdown{"kube": {}, "docker": {}}
	for i := range k1Rounds {
		for k := range order {
			who := order[(i+k)%len(order)]
			if err := changeAll(repos[:1]); err != nil {
				return err
			}
			start := time.Now()
			d, err := e.timed(ctx, hoistRun(who, "--only", "bench/k1"))
			if err != nil {
				return fmt.Errorf("(k1) on %s: %w", who, err)
			}
			rbs, err := newestBuilds(ctx, stores[who], apps[:1])
			if err != nil {
				return err
			}
			if rbs[0].b.Status != pipeline.StatusSucceeded {
				return fmt.Errorf("(k1) on %s: bench/k1 #%d %s: %s", who, rbs[0].b.Number, rbs[0].b.Status, rbs[0].b.Reason)
			}
			total[who] = append(total[who], d)
			for _, s := range rbs[0].stages {
				if s.Status != pipeline.StatusSkipped { // prebuild: the app has no prebuild-script
					stages[who][s.Name] = append(stages[who][s.Name], s.Duration())
				}
			}
			parts[who].stagesOf(rbs[0], start, d)
		}
		progress("(k1) round %d/%d: kube %s, docker %s", i+1, k1Rounds, fmtDur(total["kube"][i]), fmtDur(total["docker"][i]))
	}
	roundsNote := func(n int) string {
		if n == rounds {
			return ""
		}
		return fmt.Sprintf(", %d round(s)", n)
	}
	rep.rows = append(rep.rows, row{
		name:  "(k1) (d)'s app on Kubernetes vs Docker, total" + roundsNote(k1Rounds),
		hoist: total["kube"], baseline: total["docker"], ratio: ratio("kube/docker", total["kube"], total["docker"]),
	})
	for _, name := range pipeline.Stages {
		ks, ds := stages["kube"][name], stages["docker"][name]
		if len(ks) == 0 && len(ds) == 0 {
			continue // skipped on both (prebuild: the app has none)
		}
		rep.rows = append(rep.rows, row{name: "(k1)   stage " + string(name), hoist: ks, baseline: ds, ratio: ratio("kube/docker", ks, ds)})
	}

	// (k2): pod start against container start.
	pods, ctrs, err := benchStarts(ctx, cs, ns)
	if err != nil {
		return fmt.Errorf("(k2): %w", err)
	}
	rep.rows = append(rep.rows, row{
		name:  fmt.Sprintf("(k2) start: toolbox pod to Running vs container (%d starts)", kubeStarts),
		hoist: pods, baseline: ctrs, ratio: ratio("pod/container", pods, ctrs),
	})

	// (k3): all 20 changed for each side, the order alternating.
	batch := map[string][]time.Duration{}
	bparts := map[string]*breakdown{"kube": {}, "docker": {}}
	for i := range k3Rounds {
		for k := range order {
			who := order[(i+k)%len(order)]
			if err := changeAll(repos); err != nil {
				return err
			}
			start := time.Now()
			d, err := e.timed(ctx, hoistRun(who, "--workers", "2"))
			if err != nil {
				return fmt.Errorf("(k3) on %s: %w", who, err)
			}
			rbs, err := newestBuilds(ctx, stores[who], apps)
			if err != nil {
				return err
			}
			bparts[who].batchOf(rbs, start, d, 2)
			batch[who] = append(batch[who], d)
		}
		progress("(k3) round %d/%d: kube %s, docker %s", i+1, k3Rounds, fmtDur(batch["kube"][i]), fmtDur(batch["docker"][i]))
	}
	rep.rows = append(rep.rows, row{
		name:  fmt.Sprintf("(k3) %d changed apps, 2 at a time, Kubernetes vs Docker%s", serverApps, roundsNote(k3Rounds)),
		hoist: batch["kube"], baseline: batch["docker"], ratio: ratio("kube/docker", batch["kube"], batch["docker"]),
	})

	podsLeft, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	left := len(podsLeft.Items)
	rep.how = append(rep.how,
		fmt.Sprintf("(k1) wall time of `bin/hoist run --only bench/k1 --executor kubernetes --kubeconfig <scripts/k3s.sh's> --k8s-namespace %s` vs the same with --executor docker, "+
			"each with a data folder of its own that already built the base and the apps, every run after a new commit of the app's page; the app is (d)'s (busybox httpd FROM a busybox base, "+
			"a test-script that waits 1 s and fetches the page: on Kubernetes it runs beside the image and reaches it on $TARGET_HOST, on Docker it starts it with docker run); "+
			"%d rounds, order alternating; the stages are each build's, from its store (the ratio of each is of its medians; prebuild is skipped: the app has none); both deliver to a docker-registry of (k)'s own on loopback, which the k3s node pulls from; "+
			"every repository (the base's and the apps', in (k1) and (k3)) is served by git daemon over git:// on this machine's address, so that Kubernetes checks out in pods and Docker on the host, each over the network. "+
			"kube: %s; docker: %s", ns, k1Rounds, samples(total["kube"]), samples(total["docker"])),
		breakdownHow("(k1) where hoist run's time went on Kubernetes, from its store", parts["kube"]),
		breakdownHow("(k1) where hoist run's time went on Docker, from its store", parts["docker"]),
		fmt.Sprintf("(k2) a pod of %s (imagePullPolicy Never, `sleep 600`, grace 0) through client-go, from before its create to the watch event that shows it Running; "+
			"vs a container of the engine's toolbox image (the same busybox) through the Docker API, from before its create to its start's return (running); "+
			"%d of each, interleaved, each deleted before the next (untimed). pod: %s; container: %s", kube.DefaultToolbox, kubeStarts, samples(pods), samples(ctrs)),
		fmt.Sprintf("(k3) wall time of `bin/hoist run --workers 2` of the base (unchanged) and %d such apps, every app with a new commit, with --executor kubernetes vs docker; "+
			"%d round(s) (a Kubernetes round takes minutes), order alternating. kube: %s; docker: %s. Pods left in %s after the runs: %d (the namespace is deleted at the end)",
			serverApps, k3Rounds, samples(batch["kube"]), samples(batch["docker"]), ns, left),
		breakdownHow("(k3) where hoist run's time went on Kubernetes, from its store", bparts["kube"]),
		breakdownHow("(k3) where hoist run's time went on Docker, from its store", bparts["docker"]),
	)
	return nil
}

// benchStarts times kubeStarts toolbox pods from create to Running and as
// many toolbox containers from create to started, interleaved.
func benchStarts(ctx context.Context, cs kubernetes.Interface, ns string) (pods, ctrs []time.Duration, err error) {
	eng, err := engine.New(ctx, engine.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer eng.Close()
	toolbox, err := eng.EnsureToolbox(ctx) // shared and kept, as hoist run --sandbox keeps it
	if err != nil {
		return nil, nil, err
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, nil, err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, nil, err
	}
	progress("(k2) %d pod starts and %d container starts, interleaved", kubeStarts, kubeStarts)
	for i := range kubeStarts {
		d, err := podStart(ctx, cs, ns, fmt.Sprintf("bench-start-%d", i))
		if err != nil {
			return nil, nil, err
		}
		pods = append(pods, d)
		if d, err = containerStart(ctx, cli, toolbox); err != nil {
			return nil, nil, err
		}
		ctrs = append(ctrs, d)
	}
	return pods, ctrs, nil
}

// podStart creates a toolbox pod, waits until it is Running, and deletes
// it (untimed, waiting until it is gone).
func podStart(ctx context.Context, cs kubernetes.Interface, ns, name string) (time.Duration, error) {
	zero := int64(0)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{kube.LabelManagedBy: "hoist-bench"}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name: "main", Image: kube.DefaultToolbox, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sleep", "600"},
			}},
		},
	}
	pods := cs.CoreV1().Pods(ns)
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = pods.Delete(dctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		for dctx.Err() == nil {
			if _, err := pods.Get(dctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := time.Now()
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return 0, fmt.Errorf("creating pod %s: %w", name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w, err := pods.Watch(wctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: created.ResourceVersion,
	})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		switch p.Status.Phase {
		case corev1.PodRunning:
			return time.Since(start), nil
		case corev1.PodFailed, corev1.PodSucceeded:
			return 0, fmt.Errorf("pod %s ended (%s) instead of running: %s", name, p.Status.Phase, p.Status.Message)
		}
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return 0, fmt.Errorf("pod %s was not Running within 2 minutes", name)
}

// containerStart creates and starts a container of image, returns the time
// up to its start's return, and removes it (untimed).
func containerStart(ctx context.Context, cli *client.Client, image string) (time.Duration, error) {
	start := time.Now()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Cmd: []string{"sleep", "600"}, Labels: map[string]string{"hoist-bench": "k2"}},
	})
	if err != nil {
		return 0, fmt.Errorf("creating a container of %s: %w", image, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = cli.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
	}()
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return 0, fmt.Errorf("starting a container of %s: %w", image, err)
	}
	return time.Since(start), nil
}

// deleteNamespace deletes ns and waits (up to 2 minutes) until it is gone.
func deleteNamespace(cs kubernetes.Interface, ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting namespace %s: %w", ns, err)
	}
	for {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			fmt.Fprintf(os.Stderr, "cleanup: deleted namespace %s\n", ns)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s is still there 2 minutes after its delete: `scripts/k3s.sh kubectl delete namespace %s` removes it", ns, ns)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
