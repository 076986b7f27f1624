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

// readTree reads every file under dir into a map for testenv.GitRepo.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestServeSandboxesUntrustedProjects builds, in hoist serve without
// --trust-index, two projects it does not trust. The hostile
// testdata/hostile/prebuild's prebuild script looks for the server's
// secrets and database, the engine socket, a way to write outside its
// checkout and to become root: it runs in the toolbox container as a
// non-root user, finds none of them, and what it writes into its checkout
// is what the build gets: the project is delivered. The test-script of
// testdata/untrusted/web wgets the image under test on $TARGET_HOST, in a
// sandbox that shares that container's network, and passes.
func TestServeSandboxesUntrustedProjects(t *testing.T) {
	testenv.DockerHost(t)
	t.Setenv("HOIST_WEBHOOK_SECRET", "sandbox-e2e-secret")
	repo := testenv.GitRepo(t, readTree(t, "testdata/hostile/prebuild"))
	web := testenv.GitRepo(t, readTree(t, "testdata/untrusted/web"))
	prebuild := "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"
	idx := writeIndex(t, "hostile", entry(1, "hostile", "prebuild", repo, prebuild), entry(2, "hostile", "web", web, prebuild))
	data := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, "serve", "--index", idx, "--addr", freeAddr(t), "--data", data, "--registry-addr", freeAddr(t), "--workers", "1")
	defer srv.stop(t)
	st := openStore(t, data)
	waitFor(t, "the builds", func() bool {
		b, _ := lastBuild(t, st, "hostile/prebuild:latest")
		w, _ := lastBuild(t, st, "hostile/web:latest")
		return b.ID != 0 && b.Status.Done() && w.ID != 0 && w.Status.Done()
	})
	w, _ := lastBuild(t, st, "hostile/web:latest")
	testLog := stageLog(t, st, w.ID, pipeline.StageTest)
	if w.Status != pipeline.StatusSucceeded {
		t.Errorf("web build: %s %q\ntest log:\n%s", w.Status, w.Reason, testLog)
	}
	mustContain(t, "web test log", testLog, "sandboxed, the project is not trusted", "testing 127.0.0.1:", "on localhost:8080",
		"got: hello from an untrusted project", "PASS test-script")
	b, _ := lastBuild(t, st, "hostile/prebuild:latest")
	log := stageLog(t, st, b.ID, pipeline.StagePrebuild)
	if b.Status != pipeline.StatusSucceeded {
		t.Fatalf("build: %s %q\nprebuild log:\n%s\nserver:\n%s", b.Status, b.Reason, log, srv.output())
	}
	mustContain(t, "prebuild log", log, "sandboxed: the project is not trusted", "prebuild uid=10001", "rootfs made")
	for _, leak := range []string{"LEAK", "sandbox-e2e-secret", "uid=0"} {
		if strings.Contains(log, leak) {
			t.Errorf("prebuild log has %q:\n%s", leak, log)
		}
	}
	if _, err := os.Stat("/etc/hoist-was-here"); err == nil {
		t.Errorf("the script wrote /etc/hoist-was-here on the host")
	}
	active, err := st.Active(context.Background())
	if err != nil || len(active) != 0 {
		t.Errorf("builds still active: %+v %v", active, err)
	}
}
