package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/testenv"
)

var exampleProjects = []string{"examples/busybox:latest", "examples/hello:latest", "examples/web:v1.0.0"}

// TestExamples builds, tests and delivers the example index to the embedded
// registry, then checks every stage, log and tag.
func TestExamples(t *testing.T) {
	testenv.DockerHost(t)
	repo := copyExamples(t)
	// A relative --data, as a user types it.
	cwd := t.TempDir()
	data := filepath.Join(cwd, "data")
	addr := freeAddr(t)

	r := hoistIn(t, cwd, nil, append([]string{"run", "--index", filepath.Join(repo, "examples/index.d"), "--data", "data", "--registry-addr", addr, "-v"}, executorArgs(t)...)...)
	if r.code != 0 {
		t.Fatalf("hoist run failed:\n%s", r)
	}
	mustContain(t, "run output", r.stdout, "3 of 3 delivered to "+addr, "examples/web:v1.0.0 #1: test", "examples/busybox:latest | ")
	// Parents first: busybox is delivered before web starts.
	if strings.Index(r.stdout, "examples/busybox:latest #1: deliver succeeded") > strings.Index(r.stdout, "examples/web:v1.0.0 #1: checkout ...") {
		t.Errorf("web started before its parent busybox was delivered")
	}

	st := openStore(t, data)
	digests := map[string]string{}
	for _, p := range exampleProjects {
		b, stages := lastBuild(t, st, p)
		if b.Status != pipeline.StatusSucceeded || b.Digest == "" || len(b.Commit) != 40 {
			t.Errorf("%s: build %+v", p, b)
		}
		for _, name := range pipeline.Stages {
			s := stages[name]
			if s.Status != pipeline.StatusSucceeded && !(name == pipeline.StagePrebuild && s.Status == pipeline.StatusSkipped) {
				t.Errorf("%s: stage %s is %s (%s)", p, name, s.Status, s.Error)
			}
		}
		mustContain(t, p+" build log", stageLog(t, st, b.ID, pipeline.StageBuild), firstStep(), "pushing "+addr+"/")
		config, passwords := "PASS config", "PASS no-hard-coded-passwords"
		switch p {
		case "examples/busybox:latest":
			config = "WARN config: runs as root" // a base image: a warning, not a failure
		case "examples/hello:latest":
			passwords = "N/A no-hard-coded-passwords: no /etc/passwd" // FROM scratch
		}
		mustContain(t, p+" test log", stageLog(t, st, b.ID, pipeline.StageTest), "PASS starts", config, "PASS secrets", passwords, "pushed "+addr+"/")
		mustContain(t, p+" scan log", stageLog(t, st, b.ID, pipeline.StageScan), "attached the SBOM")
		if onKube() { // a pod cannot see the examples' local path
			mustContain(t, p+" checkout log", stageLog(t, st, b.ID, pipeline.StageCheckout), "checking out on Hoist's host, not in a pod: a local path")
		}
		digests[p] = b.Digest
	}
	mustContain(t, "hello prebuild log", stageLog(t, st, mustBuild(t, st, "examples/hello:latest"), pipeline.StagePrebuild), "go version go1.")
	mustContain(t, "web test log", stageLog(t, st, mustBuild(t, st, "examples/web:v1.0.0"), pipeline.StageTest), "the page is served", "PASS test-script",
		"PASS ports", "PASS busybox httpd is installed", "[autotest] pass: sut exited 0", "sut: web serves the page")

	images, err := st.Images(context.Background())
	if err != nil || len(images) != 3 {
		t.Fatalf("images: %v %v", images, err)
	}
	r = hoist(t, nil, "images", "--data", data)
	mustContain(t, "hoist images", r.stdout, addr+"/examples/web:v1.0.0", digests["examples/web:v1.0.0"])

	// The embedded registry's storage holds :test, :rc and the final tag,
	// all with the tested digest.
	srv, err := registry.Serve(context.Background(), registry.ServerConfig{Addr: addr, RootDir: filepath.Join(data, "registry")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := registry.New(registry.Options{})
	for _, p := range exampleProjects {
		ref, _ := pipeline.ParseImageRef(p)
		for _, tag := range []string{"test", "rc", ref.Tag} {
			d, err := client.Digest(context.Background(), ref.WithTag(tag).In(addr))
			if err != nil || d != digests[p] {
				t.Errorf("%s:%s has digest %q (%v), want %s", ref.Repository(), tag, d, err, digests[p])
			}
		}
	}
}

func mustBuild(t *testing.T, st interface {
	Builds(context.Context, string, int) ([]pipeline.Build, error)
}, project string) int64 {
	t.Helper()
	b, err := st.Builds(context.Background(), project, 1)
	if err != nil || len(b) == 0 {
		t.Fatalf("no build of %s: %v", project, err)
	}
	return b[0].ID
}

// TestExampleSandboxed builds examples/busybox with --sandbox, as hoist
// serve builds a project it does not trust: its prebuild runs in the
// toolbox container (busybox's own sh, no ldd) and must still make the
// root filesystem the build needs. bench (a2) measures this same run.
func TestExampleSandboxed(t *testing.T) {
	testenv.DockerHost(t)
	repo := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	r := hoist(t, nil, "run", "--sandbox", "--index", filepath.Join(repo, "examples/index.d"), "--only", "examples/busybox",
		"--data", data, "--registry-addr", freeAddr(t))
	if r.code != 0 {
		t.Fatalf("hoist run --sandbox failed:\n%s", r)
	}
	st := openStore(t, data)
	id := mustBuild(t, st, "examples/busybox:latest")
	mustContain(t, "prebuild log", stageLog(t, st, id, pipeline.StagePrebuild),
		"sandboxed: the project is not trusted", "rootfs.tar: ", "busybox from /bin/busybox")
}
