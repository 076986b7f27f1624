package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
