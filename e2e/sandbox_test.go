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
//
// Three more hostile projects are confined or refused: hostile/resources'
// prebuild script fork-bombs (the sandbox's process limit stops it) and
// then allocates 2 GiB (killed at its 1 GiB, the build fails saying so);
// hostile/privileged's and hostile/bindmount's autotests ask for a
// privileged service and a bind mount of /, and are refused with
// file:line:col before anything runs.
func TestServeSandboxesUntrustedProjects(t *testing.T) {
	testenv.DockerHost(t)
	t.Setenv("HOIST_WEBHOOK_SECRET", "sandbox-e2e-secret")
	repo := testenv.GitRepo(t, readTree(t, "testdata/hostile/prebuild"))
	web := testenv.GitRepo(t, readTree(t, "testdata/untrusted/web"))
	prebuild := "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"
	idx := writeIndex(t, "hostile", entry(1, "hostile", "prebuild", repo, prebuild), entry(2, "hostile", "web", web, prebuild),
		entry(3, "hostile", "resources", testenv.GitRepo(t, readTree(t, "testdata/hostile/resources")), prebuild),
		entry(4, "hostile", "privileged", testenv.GitRepo(t, readTree(t, "testdata/hostile/privileged")), ""),
		entry(5, "hostile", "bindmount", testenv.GitRepo(t, readTree(t, "testdata/hostile/bindmount")), ""))
	data := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, "serve", "--index", idx, "--addr", freeAddr(t), "--data", data, "--registry-addr", freeAddr(t), "--workers", "2")
	defer srv.stop(t)
	st := openStore(t, data)
	projects := []string{"prebuild", "web", "resources", "privileged", "bindmount"}
	waitFor(t, "the builds", func() bool {
		for _, p := range projects {
			if b, _ := lastBuild(t, st, "hostile/"+p+":latest"); b.ID == 0 || !b.Status.Done() {
				return false
			}
		}
		return true
	})
	res, _ := lastBuild(t, st, "hostile/resources:latest")
	resLog := stageLog(t, st, res.ID, pipeline.StagePrebuild)
	if res.Status != pipeline.StatusFailed || !strings.Contains(res.Reason, "used more than its 1 GiB of memory") {
		t.Errorf("resources build: %s %q, want failed for memory\n%s", res.Status, res.Reason, resLog)
	}
	mustContain(t, "resources prebuild log", resLog, "can't fork", "fork bomb over", "allocating 2 GiB")
	if strings.Contains(resLog, "LEAK") {
		t.Errorf("resources prebuild log:\n%s", resLog)
	}
	for _, c := range []struct{ project, want string }{
		{"privileged", `docker-compose.test.yml:4:5: service "sut": privileged is refused`},
		{"bindmount", `docker-compose.test.yml:4:5: service "sut": volumes is not supported`},
	} {
		b, _ := lastBuild(t, st, "hostile/"+c.project+":latest")
		if b.Status != pipeline.StatusFailed {
			t.Errorf("%s build: %s %q, want failed", c.project, b.Status, b.Reason)
		}
		mustContain(t, c.project+" test log", stageLog(t, st, b.ID, pipeline.StageTest), c.want)
	}
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
