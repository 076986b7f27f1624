package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

// kubeObject is what TestDeployKubernetes reads of a manifest.
type kubeObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name, Namespace string
	} `yaml:"metadata"`
	Spec struct {
		Template struct {
			Spec struct {
				HostNetwork bool `yaml:"hostNetwork"`
				Containers  []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name string `yaml:"name"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	raw map[string]any
}

// readManifests reads every object of the YAML files of dir.
func readManifests(t *testing.T, dir string) []kubeObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	var out []kubeObject
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(content, []byte("\n---\n")) {
			var o kubeObject
			if err := yaml.Unmarshal(doc, &o); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			if err := yaml.Unmarshal(doc, &o.raw); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			out = append(out, o)
		}
	}
	return out
}

// TestDeployKubernetes: deploy/kubernetes holds the objects its README
// section names, every namespaced one in the namespace hoist; its
// Deployment's command parses with hoist serve's own flags (so the
// manifests cannot drift from them) and runs the Kubernetes executor in
// that namespace; the PostgreSQL variant is the same Deployment with
// --db from a Secret. (e2e/k3s applies them to a real cluster.)
func TestDeployKubernetes(t *testing.T) {
	objs := readManifests(t, "../../deploy/kubernetes")
	var kinds []string
	var sqlite kubeObject
	for _, o := range objs {
		kinds = append(kinds, o.Kind+"/"+o.Metadata.Name)
		switch o.Kind {
		case "Namespace", "ClusterRole", "ClusterRoleBinding":
		default:
			if o.Metadata.Namespace != "hoist" {
				t.Errorf("%s %s is in namespace %q, want hoist", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
		}
		if o.Kind == "Deployment" {
			sqlite = o
		}
	}
	want := []string{"ClusterRole/hoist-namespace", "ClusterRoleBinding/hoist-namespace", "Deployment/hoist", "Namespace/hoist",
		"PersistentVolumeClaim/hoist-data", "Role/hoist", "RoleBinding/hoist", "Service/hoist", "ServiceAccount/hoist"}
	slices.Sort(kinds)
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("objects of deploy/kubernetes (-want +got):\n%s", diff)
	}
	f := checkServeArgs(t, "deploy/kubernetes", sqlite)
	if f != nil && f.db != "" {
		t.Errorf("deploy/kubernetes: --db %s, want SQLite in --data", f.db)
	}

	var pg kubeObject
	for _, o := range readManifests(t, "../../deploy/kubernetes/postgres") {
		if o.Kind == "Deployment" {
			pg = o
		}
	}
	f = checkServeArgs(t, "deploy/kubernetes/postgres", pg)
	if f != nil && !strings.HasPrefix(f.db, "postgres://") {
		t.Errorf("deploy/kubernetes/postgres: --db %q, want the Secret's DSN", f.db)
	}
	// Less --db and its env, the PostgreSQL Deployment is the SQLite one.
	c := pg.raw["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	delete(c, "env")
	c["args"] = slices.DeleteFunc(c["args"].([]any), func(a any) bool { return strings.HasPrefix(a.(string), "--db=") })
	if diff := cmp.Diff(sqlite.raw, pg.raw); diff != "" {
		t.Errorf("deploy/kubernetes/postgres's Deployment differs from deploy/kubernetes's in more than --db (-sqlite +postgres):\n%s", diff)
	}
}

// checkServeArgs parses the args of o's container with hoist serve's
// flags, $(HOIST_DB) standing for a DSN, and checks what the deployment
// needs: the Kubernetes executor in the namespace hoist, a data folder on
// the volume, the embedded registry on the node's loopback.
func checkServeArgs(t *testing.T, where string, o kubeObject) *serveFlags {
	t.Helper()
	cs := o.Spec.Template.Spec.Containers
	if o.Kind != "Deployment" || len(cs) != 1 || len(cs[0].Args) == 0 || cs[0].Args[0] != "serve" {
		t.Errorf("%s: want a Deployment of one container running hoist serve, got %+v", where, o)
		return nil
	}
	args := slices.Clone(cs[0].Args[1:])
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$(HOIST_DB)", "postgres://hoist:x@192.0.2.10:5432/hoist")
	}
	var stderr bytes.Buffer
	f, err := parseServeFlags(args, &stderr)
	if err != nil {
		var code exitError
		if errors.As(err, &code) {
			err = errors.New(strings.SplitN(strings.TrimSpace(stderr.String()), "\n", 2)[0])
		}
		t.Errorf("%s: hoist %s: %v", where, strings.Join(cs[0].Args, " "), err)
		return nil
	}
	for _, want := range []string{"--executor=kubernetes", "--k8s-namespace=hoist", "--data=/var/lib/hoist/data", "--registry-addr=127.0.0.1:5000"} {
		if !slices.Contains(args, want) {
			t.Errorf("%s: hoist serve without %s: %v", where, want, args)
		}
	}
	if !o.Spec.Template.Spec.HostNetwork {
		t.Errorf("%s: no hostNetwork: the node could not pull from the embedded registry on its loopback", where)
	}
	return f
}
