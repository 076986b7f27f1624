package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// hoistBin is the hoist binary built once for all tests.
var hoistBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hoist-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hoistBin = filepath.Join(dir, "hoist")
	out, err := exec.Command("go", "build", "-race", "-o", hoistBin, "../cmd/hoist").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building hoist: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	testenv.StopPostgres()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is how one hoist command ended.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// hoist runs the hoist binary with args and extra environment.
func hoist(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return hoistIn(t, "", env, args...)
}

// hoistIn runs the hoist binary in the folder dir.
func hoistIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r := runHoist(t, command{dir: dir, env: env, timeout: 15 * time.Minute}, args...)
	t.Logf("hoist %s\n%s", strings.Join(args, " "), r)
	return r
}

// command is how runHoist starts hoist.
type command struct {
	dir, stdin string
	env        []string
	timeout    time.Duration
}

// runHoist runs the hoist binary and returns how it ended.
func runHoist(t *testing.T, c command, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, hoistBin, args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(c.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running hoist %v: %v", args, err)
	}
	return r
}

// freeAddr returns a free loopback address for an embedded registry.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// openStore opens the database of a data folder hoist wrote.
func openStore(t *testing.T, data string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// lastBuild returns the newest build of project with its stages.
func lastBuild(t *testing.T, st *sqlite.Store, project string) (pipeline.Build, map[pipeline.StageName]pipeline.Stage) {
	t.Helper()
	ctx := context.Background()
	builds, err := st.Builds(ctx, project, 1)
	if err != nil || len(builds) == 0 {
		t.Fatalf("builds of %s: %v %v", project, builds, err)
	}
	stages, err := st.Stages(ctx, builds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	m := map[pipeline.StageName]pipeline.Stage{}
	for _, s := range stages {
		m[s.Name] = s
	}
	return builds[0], m
}

// stageLog reads a stage's whole log.
func stageLog(t *testing.T, st *sqlite.Store, buildID int64, stage pipeline.StageName) string {
	t.Helper()
	rc, err := st.OpenLog(context.Background(), buildID, stage, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// copyExamples copies the repository's examples/ into a new git repository
// committed on main, so the test builds exactly the examples in this tree.
func copyExamples(t *testing.T) string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir("../examples", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		files[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return testenv.GitRepo(t, files)
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// serveRepos serves git repositories over HTTP, as git http-backend does
// for users: repos maps a name ("app.git") to a repository's folder. It
// returns the base URL; the repository is at base + "/" + name.
func serveRepos(t *testing.T, repos map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, dir := range repos {
		if err := os.Symlink(dir, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return testenv.GitHTTPServer(t, root)
}

// firstStep is how the engine's builder logs a build's first step.
func firstStep() string {
	if onKube() {
		return "#1 [internal] load build definition" // BuildKit, in its pod
	}
	if testenv.Podman() {
		return "STEP 1/" // buildah
	}
	return "Step 1/"
}
