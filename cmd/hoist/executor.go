package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/kube"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/source"
)

// executor is where the stages run: the Docker engine, or pods in a
// Kubernetes cluster.
type executor interface {
	pipeline.Executor
	Close() error
}

var (
	_ executor = (*engine.Engine)(nil)
	_ executor = (*kube.Executor)(nil)
)

// executorFlags choose the executor; run, serve, worker and scan share them.
type executorFlags struct {
	kind              string
	kubeconfig        string
	namespace         string
	toolbox, buildkit string
	gitImage          string
	checkout          string // pod or host
}

func (x *executorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&x.kind, "executor", "docker", "where the stages run: docker (the engine at $DOCKER_HOST) or kubernetes (pods in a cluster: see --kubeconfig)")
	fs.StringVar(&x.kubeconfig, "kubeconfig", "", "the cluster of --executor kubernetes (default: the pod's own when Hoist runs in the cluster, else $KUBECONFIG)")
	fs.StringVar(&x.namespace, "k8s-namespace", "hoist", "the namespace of --executor kubernetes's pods (made when missing, if Hoist may)")
	fs.StringVar(&x.toolbox, "k8s-toolbox-image", kube.DefaultToolbox, "the toolbox image on the cluster's nodes (scripts/k3s.sh imports it)")
	fs.StringVar(&x.buildkit, "k8s-buildkit-image", kube.DefaultBuildKit, "the BuildKit image on the cluster's nodes (scripts/k3s.sh imports it)")
	fs.StringVar(&x.gitImage, "k8s-git-image", kube.DefaultGit, "the image with git that checkouts run in on the cluster's nodes (scripts/k3s.sh imports it)")
	fs.StringVar(&x.checkout, "k8s-checkout", "pod", "where --executor kubernetes checks repositories out: pod (git runs in a confined pod, which has none of this host's git credentials: a token in the URL works; local paths, file: URLs, loopback hosts and ssh addresses are checked out on this host, as a pod cannot reach them or has no keys) or host (git runs on this host, with its credential helpers and ssh keys)")
}

// kubernetes reports whether the stages run as pods.
func (x *executorFlags) kubernetes() bool { return x.kind == "kubernetes" || x.kind == "k8s" }

// open connects to the executor. Images it keeps without a registry of
// their own go to registryHost.
func (x *executorFlags) open(ctx context.Context, reg registryFlags, registryHost string, keychain authn.Keychain, stderr io.Writer) (executor, error) {
	if x.checkout != "pod" && x.checkout != "host" {
		return nil, fmt.Errorf("--k8s-checkout %q: want pod or host", x.checkout)
	}
	switch x.kind {
	case "", "docker":
		if x.kubeconfig != "" {
			return nil, fmt.Errorf("--kubeconfig needs --executor kubernetes")
		}
		e, err := engine.New(ctx, engine.Options{Insecure: reg.insecure, Keychain: keychain})
		if err != nil {
			return nil, err // not e: a nil *Engine in an executor is not a nil executor
		}
		return e, nil
	case "kubernetes", "k8s":
		k, err := kube.New(ctx, x.kubeconfig, kube.Options{
			Namespace: x.namespace, Registry: registryHost, Insecure: pipeline.PlainHTTP(registryHost, pipeline.InsecureHosts(reg.insecure)),
			Keychain: keychain, Toolbox: x.toolbox, BuildKit: x.buildkit, Git: x.gitImage,
		})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "executor: pods in namespace %s of the cluster\n", k.Namespace())
		return k, nil
	}
	return nil, fmt.Errorf("--executor %q: want docker or kubernetes", x.kind)
}

// source is the checkout stage's: on Kubernetes, git runs in pods
// (kube.Executor.Source) unless --k8s-checkout host; else, and for what a
// pod cannot reach, host.
func (x *executorFlags) source(exec executor, host *source.Git) pipeline.Source {
	k, ok := exec.(*kube.Executor)
	if !ok || x.checkout == "host" {
		return host
	}
	return k.Source(gitInPod, host)
}

// gitInPod is source.Git's checkout with its git commands run in a pod.
func gitInPod(ctx context.Context, run kube.GitRunner, url, branch, dir string, log io.Writer) (string, error) {
	return (&source.Git{Runner: run}).Checkout(ctx, url, branch, dir, log)
}

// prepare readies the executor for untrusted scripts: the Docker engine
// makes its toolbox image (on Kubernetes the nodes have it).
func prepare(ctx context.Context, x executor) error {
	if e, ok := x.(interface {
		EnsureToolbox(context.Context) (string, error)
	}); ok {
		_, err := e.EnsureToolbox(ctx)
		return err
	}
	return nil
}
