// Package kube is the Kubernetes executor (pipeline.Executor): every
// stage that runs a container runs as pods in one namespace of a cluster,
// and builds run in BuildKit in a pod. It is an adapter: it imports
// pipeline and libraries (client-go, BuildKit's client,
// go-containerregistry), never other adapters.
package kube

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RESTConfig finds the cluster: kubeconfig when it is set, else the
// in-cluster configuration of a pod's service account, else the file
// $KUBECONFIG names.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", env)
		if err != nil {
			return nil, fmt.Errorf("$KUBECONFIG %s: %w", env, err)
		}
		return cfg, nil
	}
	return nil, fmt.Errorf("no cluster: not running in a pod, and neither --kubeconfig nor $KUBECONFIG is set (scripts/k3s.sh up starts one; scripts/k3s.sh kubeconfig prints its file)")
}

// Clientset connects to the cluster RESTConfig finds.
func Clientset(kubeconfig string) (*kubernetes.Clientset, *rest.Config, error) {
	cfg, err := RESTConfig(kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the cluster at %s: %w", cfg.Host, err)
	}
	return cs, cfg, nil
}
