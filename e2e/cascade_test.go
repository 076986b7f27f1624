package e2e

import (
	"path/filepath"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestCascade builds parent → child → grandchild and an unrelated project,
// each from its own repository over git HTTP, with the real engine. A
// commit to the parent's repository rebuilds all three, in order, while the
// unrelated project is skipped as unchanged with no engine work; a parent
// that fails skips its children, and the fix brings them back.
func TestCascade(t *testing.T) {
	testenv.DockerHost(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	if r := hoist(t, nil, "run", "--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/busybox", "--data", data, "--registry-addr", addr); r.code != 0 {
		t.Fatalf("delivering busybox:\n%s", r)
	}
	parentFile := func(v string) map[string]string {
		return map[string]string{"Dockerfile": busyboxFrom + "RUN echo " + v + " > /parent\nCMD [\"true\"]\n"}
	}
	repos := map[string]string{
		"parent.git":     testenv.GitRepo(t, parentFile("v1")),
		"child.git":      testenv.GitRepo(t, map[string]string{"Dockerfile": "ARG P=demo/parent\nFROM ${P} AS base\nFROM base\nRUN cat /parent > /child\n"}),
		"grandchild.git": testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM \\\n  demo/child:latest\nRUN cat /child > /grandchild\n"}),
		"other.git":      testenv.GitRepo(t, map[string]string{"Dockerfile": busyboxFrom + "RUN echo other > /other\nCMD [\"true\"]\n"}),
	}
	base := serveRepos(t, repos)
	idx := writeIndex(t, "demo",
		entry(1, "demo", "parent", base+"/parent.git", ""),
		entry(2, "demo", "child", base+"/child.git", "    depends-on: demo/parent\n"),
		entry(3, "demo", "grandchild", base+"/grandchild.git", "    depends-on: demo/child\n"),
		entry(4, "demo", "other", base+"/other.git", ""),
	)
	run := func(want int) {
		t.Helper()
		if r := hoist(t, nil, "run", "--index", idx, "--data", data, "--registry-addr", addr); r.code != want {
			t.Fatalf("hoist run: exit %d, want %d:\n%s", r.code, want, r)
		}
	}
	chain := []string{"demo/parent:latest", "demo/child:latest", "demo/grandchild:latest"}
	st := openStore(t, data)
	expect := func(step string, key string, status pipeline.Status, reason string) pipeline.Build {
		t.Helper()
		b, _ := lastBuild(t, st, key)
		if b.Status != status || (reason != "" && b.Reason != reason) {
			t.Errorf("%s: %s #%d is %s %q, want %s %q", step, key, b.Number, b.Status, b.Reason, status, reason)
		}
		return b
	}
	inOrder := func(step string) {
		t.Helper()
		var prev pipeline.Build
		for i, k := range chain {
			b := expect(step, k, pipeline.StatusSucceeded, "")
			if i > 0 && b.Started.Before(prev.Finished) {
				t.Errorf("%s: %s started before %s finished", step, k, prev.Project)
			}
			prev = b
		}
	}

	run(0)
	inOrder("first run")
	from, err := st.FromImages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := from["demo/grandchild:latest"]; len(got) != 1 || got[0].String() != "demo/child:latest" {
		t.Errorf("grandchild's FROM images = %v, want demo/child:latest", got)
	}

	// Nothing changed: every build is skipped as unchanged.
	run(0)
	for _, k := range append(chain, "demo/other:latest") {
		b := expect("no change", k, pipeline.StatusSkipped, "")
		if !b.Unchanged() {
			t.Errorf("no change: %s: %q, want unchanged", k, b.Reason)
		}
	}

	// A commit to the parent's repository rebuilds the chain, in order.
	testenv.Commit(t, repos["parent.git"], parentFile("v2"), "v2")
	run(0)
	inOrder("parent commit")
	if b := expect("parent commit", "demo/other:latest", pipeline.StatusSkipped, ""); !b.Unchanged() {
		t.Errorf("other: %q, want unchanged", b.Reason)
	}

	// The parent breaks: its children are skipped, not wedged.
	testenv.Commit(t, repos["parent.git"], map[string]string{"Dockerfile": busyboxFrom + "RUN false\n"}, "broken")
	run(1)
	expect("parent broken", "demo/parent:latest", pipeline.StatusFailed, "")
	expect("parent broken", "demo/child:latest", pipeline.StatusSkipped, "parent demo/parent:latest failed")
	expect("parent broken", "demo/grandchild:latest", pipeline.StatusSkipped, "parent demo/child:latest was skipped")

	// The fix: all three build again.
	testenv.Commit(t, repos["parent.git"], parentFile("v3"), "fixed")
	run(0)
	inOrder("parent fixed")
}
