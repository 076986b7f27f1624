package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestRunPostgres builds, tests and delivers the examples' busybox image
// with --db naming a PostgreSQL database: the build, its stages, logs and
// delivery are there (the data folder keeps only the registry), and hoist
// logs and images read them back from it.
func TestRunPostgres(t *testing.T) {
	testenv.DockerHost(t)
	db := testenv.Postgres(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	const p = "examples/busybox:latest"

	r := hoist(t, nil, "run", "--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/busybox",
		"--data", data, "--db", db, "--registry-addr", addr)
	if r.code != 0 {
		t.Fatalf("hoist run --db %s:\n%s", db, r)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	builds, err := st.Builds(ctx, p, 0)
	if err != nil || len(builds) != 1 || builds[0].Status != pipeline.StatusSucceeded || builds[0].Digest == "" {
		t.Fatalf("builds of %s in PostgreSQL: %+v, %v; want one that succeeded", p, builds, err)
	}
	stages, err := st.Stages(ctx, builds[0].ID)
	if err != nil || len(stages) != len(pipeline.Stages) {
		t.Errorf("stages in PostgreSQL: %+v, %v", stages, err)
	}
	images, err := st.Images(ctx)
	if err != nil || len(images) != 1 || images[0].Digest != builds[0].Digest {
		t.Errorf("images in PostgreSQL: %+v, %v; want %s at %s", images, err, p, builds[0].Digest)
	}
	if _, err := os.Stat(filepath.Join(data, "hoist.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data folder has a hoist.db (%v): --db was not used", err)
	}

	r = hoist(t, nil, "logs", "--db", db, "--stage", "test", p)
	mustContain(t, "hoist logs --db", r.stdout, "PASS starts")
	r = hoist(t, nil, "images", "--db", db)
	mustContain(t, "hoist images --db", r.stdout, addr+"/"+p, builds[0].Digest)
}

// TestServePostgres runs hoist serve with --db naming a PostgreSQL
// database: it builds the index's project and a build asked for through
// the API from that database's queue, the users and tokens the commands
// add there sign in, and a restart finds its builds again.
func TestServePostgres(t *testing.T) {
	testenv.DockerHost(t)
	db := testenv.Postgres(t)
	examples := copyExamples(t)
	idx := writeIndex(t, "examples", `  - id: 2
    app-id: examples
    job-id: busybox
    git-url: `+examples+`
    git-branch: main
    git-path: examples/busybox
    target-file: Dockerfile
    desired-tag: latest
    notify-email: dev@example.com
    build-context: ./
    prebuild-script: examples/busybox/prebuild.sh
    prebuild-context: examples/busybox
    depends-on: null
`)
	data := filepath.Join(t.TempDir(), "data")
	addr, registryAddr := freeAddr(t), freeAddr(t)
	serve := func() *served {
		return startServe(t, "serve", "--trust-index", "--index", idx, "--addr", addr, "--data", data,
			"--db", db, "--registry-addr", registryAddr, "--workers", "1")
	}
	srv := serve()
	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--admin", "--db", db, "alice"); r.code != 0 {
		t.Fatalf("user add --db:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--db", db, "alice")
	if r.code != 0 {
		t.Fatalf("token create --db:\n%s", r)
	}
	env := []string{"HOIST_TOKEN=" + strings.TrimSpace(r.stdout), "HOIST_SERVER=http://" + addr}

	ctx := context.Background()
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const p = "examples/busybox:latest"
	done := func(n int) func() bool {
		return func() bool {
			bs, err := st.Builds(ctx, p, 0)
			return err == nil && len(bs) == n && bs[0].Status.Done()
		}
	}
	waitFor(t, "the first build", done(1))
	if r := hoist(t, env, "build", "--force", p); r.code != 0 {
		t.Fatalf("hoist build:\n%s", r)
	}
	waitFor(t, "the build asked for", done(2))
	srv.stop(t)

	srv = serve() // again, on the same database
	defer srv.stop(t)
	builds, err := st.Builds(ctx, p, 0)
	if err != nil || len(builds) != 2 {
		t.Fatalf("builds after a restart: %+v, %v", builds, err)
	}
	for _, b := range builds {
		if b.Status != pipeline.StatusSucceeded {
			t.Errorf("%s #%d: %s %q, want succeeded\n%s", p, b.Number, b.Status, b.Reason, srv.output())
		}
	}
	if r := hoist(t, env, "logs", "--stage", "deliver", p+"#2"); r.code != 0 {
		t.Errorf("hoist logs from the restarted server:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(data, "hoist.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data folder has a hoist.db (%v): --db was not used", err)
	}
}
