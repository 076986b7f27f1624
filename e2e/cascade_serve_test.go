package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestCascadeServe runs the cascade in hoist serve with the real engine: a
// commit to the parent's repository and a build of the parent rebuild the
// child and then the grandchild on their own, each caused by its parent's
// new digest, while an unrelated project is not built at all.
func TestCascadeServe(t *testing.T) {
	testenv.DockerHost(t)
	examples := copyExamples(t)
	parentFile := func(v string) map[string]string {
		return map[string]string{"Dockerfile": busyboxFrom + "RUN echo " + v + " > /parent\nCMD [\"true\"]\n"}
	}
	repos := map[string]string{
		"parent.git":     testenv.GitRepo(t, parentFile("v1")),
		"child.git":      testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM demo/parent\nRUN cat /parent > /child\n"}),
		"grandchild.git": testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM demo/child:latest\nRUN cat /child > /grandchild\n"}),
		"other.git":      testenv.GitRepo(t, map[string]string{"Dockerfile": busyboxFrom + "CMD [\"true\"]\n"}),
	}
	git := serveRepos(t, repos)
	busybox := `  - id: 9
    app-id: examples
    job-id: busybox
    git-url: ` + examples + `
    git-branch: main
    git-path: examples/busybox
    target-file: Dockerfile
    desired-tag: latest
    notify-email: dev@example.com
    build-context: ./
    prebuild-script: examples/busybox/prebuild.sh
    prebuild-context: examples/busybox
    depends-on: null
`
	idx := writeIndex(t, "demo",
		entry(1, "demo", "parent", git+"/parent.git", "    depends-on: examples/busybox\n"),
		entry(2, "demo", "child", git+"/child.git", "    depends-on: demo/parent\n"),
		entry(3, "demo", "grandchild", git+"/grandchild.git", "    depends-on: demo/child\n"),
		entry(4, "demo", "other", git+"/other.git", "    depends-on: examples/busybox\n"),
	)
	if err := os.WriteFile(filepath.Join(idx, "examples.yaml"), []byte("Projects:\n"+busybox), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startServe(t, "serve", "--trust-index", "--index", idx, "--addr", addr, "--data", data, "--registry-addr", freeAddr(t), "--workers", "2")
	defer srv.stop(t)
	srv.waitOutput(t, "hoist is serving")
	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--admin", "--data", data, "alice"); r.code != 0 {
		t.Fatalf("user add:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--data", data, "alice")
	if r.code != 0 {
		t.Fatalf("token create:\n%s", r)
	}
	env := []string{"HOIST_TOKEN=" + strings.TrimSpace(r.stdout), "HOIST_SERVER=" + base}
	st := openStore(t, data)
	idle := func() bool {
		active, err := st.Active(context.Background())
		return err == nil && len(active) == 0
	}
	// The index's first builds: wait until every project delivered once.
	waitFor(t, "the first builds", func() bool {
		last, err := st.LastBuilds(context.Background())
		return err == nil && len(last) == 5 && idle()
	})
	for _, k := range []string{"demo/parent:latest", "demo/child:latest", "demo/grandchild:latest", "demo/other:latest"} {
		if b, _ := lastBuild(t, st, k); b.Status != pipeline.StatusSucceeded {
			t.Fatalf("first build of %s: %s %q\n%s", k, b.Status, b.Reason, srv.output())
		}
	}
	otherBefore, _ := lastBuild(t, st, "demo/other:latest")
	childBefore, _ := lastBuild(t, st, "demo/child:latest")
	grandBefore, _ := lastBuild(t, st, "demo/grandchild:latest")

	testenv.Commit(t, repos["parent.git"], parentFile("v2"), "v2")
	if r := hoist(t, env, "build", "demo/parent"); r.code != 0 {
		t.Fatalf("hoist build:\n%s", r)
	}
	waitFor(t, "the cascade", func() bool {
		b, _ := lastBuild(t, st, "demo/grandchild:latest")
		return b.ID != grandBefore.ID && b.Status.Done() && idle()
	})
	parent, _ := lastBuild(t, st, "demo/parent:latest")
	child, _ := lastBuild(t, st, "demo/child:latest")
	grand, _ := lastBuild(t, st, "demo/grandchild:latest")
	for _, c := range []struct {
		b      pipeline.Build
		cause  string
		before pipeline.Build
	}{
		{child, "parent demo/parent:latest rebuilt (" + parent.Digest[:19] + "…)", parent},
		{grand, "parent demo/child:latest rebuilt (" + child.Digest[:19] + "…)", child},
	} {
		if c.b.Status != pipeline.StatusSucceeded || c.b.Cause != c.cause {
			t.Errorf("%s #%d: %s %q caused %q, want succeeded caused %q", c.b.Project, c.b.Number, c.b.Status, c.b.Reason, c.b.Cause, c.cause)
		}
		if c.b.Started.Before(c.before.Finished) {
			t.Errorf("%s started before its parent %s finished", c.b.Project, c.before.Project)
		}
	}
	if child.ID == childBefore.ID || child.Digest == childBefore.Digest {
		t.Errorf("the child was not rebuilt: %+v", child)
	}
	if other, _ := lastBuild(t, st, "demo/other:latest"); other.ID != otherBefore.ID {
		t.Errorf("the unrelated project built again: #%d %s %q", other.Number, other.Cause, other.Reason)
	}
}
