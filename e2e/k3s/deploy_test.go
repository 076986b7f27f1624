package k3s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hoistci/hoist/internal/testenv"
)

// hoistUID is the user of the image of Hoist and of its Deployment.
const hoistUID = 10001

// hoistData is where the Deployment's hoist serve keeps its data.
const hoistData = "/var/lib/hoist/data"

// TestDeploy deploys Hoist into the running cluster as a user would:
// scripts/k3s.sh import-hoist makes the image of this clone and imports
// it, deploy/kubernetes is applied (into the test's namespace, on a
// hostPath volume of a temp dir, its ports moved to free ones), and when
// the Deployment is Ready a project registered through the JSON API of
// the in-cluster Hoist (its repository served over HTTP by the test on
// the host's loopback, which the pod reaches on the host's network) is
// built by the Kubernetes executor's pods and delivered to the embedded
// registry, read back from the host.
func TestDeploy(t *testing.T) { deployAndBuild(t, false) }

// TestDeployPostgres is TestDeploy with deploy/kubernetes/postgres's
// Deployment and Secret, on a PostgreSQL database of the test's (on the
// host's loopback, which the pod shares).
func TestDeployPostgres(t *testing.T) { deployAndBuild(t, true) }

func deployAndBuild(t *testing.T, postgres bool) {
	_, ns := testenv.Kube(t)
	if os.Getuid() != 0 {
		testenv.Missing(t, "scripts/k3s.sh import-hoist needs root")
	}
	var dsn string
	if postgres {
		dsn = testenv.Postgres(t)
	}
	k3s := testenv.K3sScript(t)
	ref := importHoist(t, k3s)
	ui, reg := freePort(t), freePort(t)
	data := t.TempDir()
	if err := os.Chown(data, hoistUID, hoistUID); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(k3s), "..", "deploy", "kubernetes")
	m := manifests{ns: ns, image: ref, ui: ui, reg: reg, dsn: dsn}
	files := manifestFiles(t, dir)
	if postgres {
		files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "30-deployment.yaml" })
		files = append(files, manifestFiles(t, filepath.Join(dir, "postgres"))...)
	}
	docs := m.read(t, files)
	pv := "hoist-data-" + ns
	docs = append(docs, fmt.Sprintf(`{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": %q},
 "spec": {"capacity": {"storage": "20Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
  "hostPath": {"path": %q, "type": "Directory"}, "claimRef": {"namespace": %q, "name": "hoist-data"}}}`, pv, data, ns))
	t.Cleanup(func() { undeploy(t, k3s, ns, pv) })
	kubectlIn(t, k3s, `{"apiVersion": "v1", "kind": "List", "items": [`+strings.Join(docs, ",\n")+`]}`, "apply", "-f", "-")

	start := time.Now()
	waitReady(t, k3s, ns, 5*time.Minute)
	t.Logf("applied to Ready: %v", time.Since(start).Round(10*time.Millisecond))
	base := fmt.Sprintf("http://127.0.0.1:%d", ui)
	db := []string{"--data", hoistData}
	if postgres {
		db = []string{"--db", dsn}
	}
	token := adminToken(t, k3s, ns, db)

	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY rootfs/ /\nCMD [\"sleep\", \"1000\"]\n"})
	testenv.BusyboxRootfs(t, repo)
	commit := testenv.Commit(t, repo, nil, "busybox")
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"

	var registered struct {
		Build struct{ ID int64 }
		Error any
	}
	api(t, base, token, "POST", "/api/v1/projects", map[string]any{"name": "deploy/app", "repo_url": url, "branch": "main"}, &registered, http.StatusCreated)
	id := registered.Build.ID
	if id == 0 {
		var triggered struct{ Build struct{ ID int64 } }
		t.Logf("registration queued no build (%v): triggering one", registered.Error)
		api(t, base, token, "POST", "/api/v1/projects/deploy/app/builds", nil, &triggered, http.StatusAccepted)
		id = triggered.Build.ID
	}
	b := waitBuild(t, base, token, id, 15*time.Minute)
	if b.Status != "succeeded" {
		log := apiText(t, base, token, fmt.Sprintf("/api/v1/builds/%d/log", id))
		t.Fatalf("build %d %s at %s: %s\n%s", id, b.Status, b.FailedStage, b.Reason, log)
	}
	if b.Commit != commit {
		t.Errorf("build %d built %s, want %s", id, b.Commit, commit)
	}
	t.Logf("build %d delivered %s (%s) in %v", id, b.Image, b.Digest, time.Since(start).Round(time.Second))

	// Delivered into the embedded registry, on the node's loopback.
	img := fmt.Sprintf("127.0.0.1:%d/deploy/app:latest", reg)
	r, err := name.ParseReference(img, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("the delivered image %s: %v", img, err)
	}
	if b.Digest != "" && desc.Digest.String() != b.Digest {
		t.Errorf("%s is %s, the build says it delivered %s", img, desc.Digest, b.Digest)
	}
	// The database is the one the variant names.
	_, err = os.Stat(filepath.Join(data, "data", "hoist.db"))
	if postgres && err == nil {
		t.Errorf("the PostgreSQL variant made a SQLite database on its volume")
	}
	if !postgres && err != nil {
		t.Errorf("no SQLite database on the volume: %v", err)
	}
	// The stages' pods are gone with the build.
	if pods := run(t, k3s, "kubectl", "-n", ns, "get", "pods", "-l", "app.kubernetes.io/managed-by=hoist", "-o", "name"); strings.TrimSpace(pods) != "" {
		t.Errorf("the stages' pods are left after the build:\n%s", pods)
	}
}

// waitReady waits until the Deployment hoist of ns is Ready, and fails at
// once, with the last log, when its container exits twice (a flag it
// does not know, a database it cannot open).
func waitReady(t *testing.T, k3s, ns string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ready := run(t, k3s, "kubectl", "-n", ns, "get", "deployment", "hoist", "-o", "jsonpath={.status.readyReplicas}")
		if ready == "1" {
			return
		}
		restarts := run(t, k3s, "kubectl", "-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=hoist",
			"-o", "jsonpath={.items[*].status.containerStatuses[*].restartCount}")
		if n, _ := strconv.Atoi(strings.TrimSpace(restarts)); n >= 2 {
			msg := run(t, k3s, "kubectl", "-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=hoist",
				"-o", "jsonpath={.items[*].status.containerStatuses[*].lastState.terminated.message}")
			t.Fatalf("hoist serve in the Deployment exited %d times; the end of its log:\n%s", n, msg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Deployment of Hoist is not Ready after %v", limit)
		}
		time.Sleep(time.Second)
	}
}

// importHoist runs scripts/k3s.sh import-hoist and returns the image's
// reference.
func importHoist(t *testing.T, k3s string) string {
	t.Helper()
	start := time.Now()
	c := exec.Command(k3s, "import-hoist")
	c.Stderr = testWriter{t}
	out, err := c.Output()
	if err != nil {
		t.Fatalf("scripts/k3s.sh import-hoist: %v", err)
	}
	ref := strings.TrimSpace(string(out))
	if !strings.HasPrefix(ref, "hoist:") || strings.Contains(ref, "\n") {
		t.Fatalf("scripts/k3s.sh import-hoist printed %q, want hoist:SUM", ref)
	}
	t.Logf("import-hoist: %s in %v", ref, time.Since(start).Round(10*time.Millisecond))
	return ref
}

// manifests moves the objects of deploy/kubernetes into the namespace
// ns (cluster-wide objects get ns in their names), on image, with hoist
// serve's ports moved to ui and reg (the pod is on the host's network:
// the usual ports may be taken), and the Secret's DSN to dsn.
type manifests struct {
	ns, image string
	ui, reg   int
	dsn       string
}

// manifestFiles lists the manifests of dir, in the order kubectl applies
// them.
func manifestFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	return files
}

// read reads the objects of files, moved, as JSON. It fails when a
// manifest no longer holds what it rewrites.
func (m manifests) read(t *testing.T, files []string) []string {
	t.Helper()
	var docs []string
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(content, []byte("\n---\n")) {
			var o map[string]any
			if err := yaml.Unmarshal(doc, &o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := m.rewrite(o); err != nil {
				t.Fatalf("%s: %v (update the test with the manifest)", f, err)
			}
			j, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, string(j))
		}
	}
	return docs
}

// rewrite moves one object (see manifests).
func (m manifests) rewrite(o map[string]any) error {
	ns, ref, ui, reg := m.ns, m.image, m.ui, m.reg
	meta := o["metadata"].(map[string]any)
	for _, s := range list(o["subjects"]) {
		s.(map[string]any)["namespace"] = ns
	}
	switch o["kind"] {
	case "Namespace":
		meta["name"] = ns // there already: testenv.Kube made it
	case "ClusterRole":
		meta["name"] = fmt.Sprint(meta["name"], "-", ns)
		for _, r := range list(o["rules"]) {
			if names := list(r.(map[string]any)["resourceNames"]); len(names) > 0 {
				r.(map[string]any)["resourceNames"] = []string{ns}
			}
		}
	case "ClusterRoleBinding":
		meta["name"] = fmt.Sprint(meta["name"], "-", ns)
		rr := o["roleRef"].(map[string]any)
		rr["name"] = fmt.Sprint(rr["name"], "-", ns)
	case "Secret":
		meta["namespace"] = ns
		sd, _ := o["stringData"].(map[string]any)
		if _, ok := sd["dsn"]; !ok {
			return fmt.Errorf("the Secret has no stringData.dsn")
		}
		sd["dsn"] = m.dsn
	default:
		meta["namespace"] = ns
	}
	if o["kind"] != "Deployment" {
		return nil
	}
	pod := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	c := list(pod["containers"])[0].(map[string]any)
	c["image"], c["imagePullPolicy"] = ref, "Never"
	args := list(c["args"])
	for _, r := range [][2]string{
		{"--addr=0.0.0.0:8080", fmt.Sprintf("--addr=0.0.0.0:%d", ui)},
		{"--registry-addr=127.0.0.1:5000", fmt.Sprintf("--registry-addr=127.0.0.1:%d", reg)},
		{"--k8s-namespace=hoist", "--k8s-namespace=" + ns},
		{"--executor=kubernetes", "--executor=kubernetes"},
	} {
		i := indexOf(args, r[0])
		if i < 0 {
			return fmt.Errorf("the Deployment's args %v hold no %s", args, r[0])
		}
		args[i] = r[1]
	}
	ports := map[string]int{"http": ui, "registry": reg}
	for _, p := range list(c["ports"]) {
		p := p.(map[string]any)
		n, ok := ports[fmt.Sprint(p["name"])]
		if !ok {
			return fmt.Errorf("the Deployment's container has a port %v the test does not know", p["name"])
		}
		p["containerPort"] = n
		delete(ports, fmt.Sprint(p["name"]))
	}
	if len(ports) > 0 {
		return fmt.Errorf("the Deployment's container names no ports %v", ports)
	}
	return nil
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func indexOf(l []any, s string) int {
	for i, v := range l {
		if v == s {
			return i
		}
	}
	return -1
}

// undeploy deletes what TestDeploy made outside the test's namespace (its
// volume, its cluster-wide role), first the Deployment so that nothing
// writes the volume any more; with the logs when the test failed.
func undeploy(t *testing.T, k3s, ns, pv string) {
	if t.Failed() {
		for _, args := range [][]string{
			{"-n", ns, "get", "all,pvc,events"},
			{"-n", ns, "describe", "pods"},
			{"-n", ns, "logs", "deployment/hoist", "--tail=200"},
		} {
			out, _ := exec.Command(k3s, append([]string{"kubectl"}, args...)...).CombinedOutput()
			t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
		}
	}
	for _, args := range [][]string{
		{"-n", ns, "delete", "deployment", "hoist", "--ignore-not-found", "--timeout=2m"},
		{"-n", ns, "delete", "pods", "-l", "app.kubernetes.io/name=hoist", "--ignore-not-found", "--timeout=2m"},
		{"-n", ns, "delete", "pvc", "hoist-data", "--ignore-not-found", "--timeout=1m"},
		{"delete", "pv", pv, "--ignore-not-found", "--timeout=1m"},
		{"delete", "clusterrolebinding", "hoist-namespace-" + ns, "--ignore-not-found"},
		{"delete", "clusterrole", "hoist-namespace-" + ns, "--ignore-not-found"},
	} {
		if out, err := exec.Command(k3s, append([]string{"kubectl"}, args...)...).CombinedOutput(); err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// adminToken adds an admin to the in-cluster Hoist (hoist user add in its
// pod, on its database: db is --data DIR or --db DSN) and returns an API
// token of theirs.
func adminToken(t *testing.T, k3s, ns string, db []string) string {
	t.Helper()
	hoist := []string{"-n", ns, "exec", "-i", "deployment/hoist", "--", "hoist"}
	kubectlIn(t, k3s, "a-deploy-test-password\n", slices.Concat(hoist, []string{"user", "add", "--admin"}, db, []string{"admin"})...)
	token := strings.TrimSpace(run(t, k3s, slices.Concat([]string{"kubectl"}, hoist, []string{"token", "create"}, db, []string{"admin"})...))
	if token == "" || strings.ContainsAny(token, " \n") {
		t.Fatalf("hoist token create printed %q", token)
	}
	return token
}

// kubectlIn runs the cluster's kubectl with stdin.
func kubectlIn(t *testing.T, k3s, stdin string, args ...string) string {
	t.Helper()
	c := exec.Command(k3s, append([]string{"kubectl"}, args...)...)
	c.Stdin = strings.NewReader(stdin)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// api calls the JSON API and decodes the answer into out; any status but
// want fails the test.
func api(t *testing.T, base, token, method, path string, body, out any, want int) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d:\n%s", method, path, resp.Status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
}

// apiText is the body of a GET of the API, or why there is none.
func apiText(t *testing.T, base, token, path string) string {
	req, err := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// build is what TestDeploy reads of GET /api/v1/builds/{id}.
type build struct {
	Status      string `json:"status"`
	FailedStage string `json:"failed_stage"`
	Reason      string `json:"reason"`
	Commit      string `json:"commit"`
	Image       string `json:"image"`
	Digest      string `json:"digest"`
}

// waitBuild waits until build id has ended, and returns it.
func waitBuild(t *testing.T, base, token string, id int64, limit time.Duration) build {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var b build
		api(t, base, token, "GET", "/api/v1/builds/"+strconv.FormatInt(id, 10), nil, &b, http.StatusOK)
		switch b.Status {
		case "succeeded", "failed", "cancelled", "skipped":
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %d still %s after %v", id, b.Status, limit)
		}
		time.Sleep(time.Second)
	}
}

// freePort is a TCP port free on the host now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
