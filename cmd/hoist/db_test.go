package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/server"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/testenv"
)

func TestMain(m *testing.M) { testenv.MainWithPostgres(m) }

// TestDBPostgres runs the commands that change the store with --db
// naming a PostgreSQL database: what they do is there, and nothing is
// written to the data folder's SQLite database.
func TestDBPostgres(t *testing.T) {
	ctx := context.Background()
	url, data := testenv.Postgres(t), t.TempDir()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := pipeline.Project{AppID: "team", JobID: "app", Tag: "latest", GitURL: "https://example.com/app.git", GitBranch: "main", TargetFile: "Dockerfile"}
	if err := st.PutProject(ctx, p); err != nil {
		t.Fatal(err)
	}

	code, out, errs := hoistStdin("correct horse\n", "user", "add", "--data", data, "--db", url, "alice")
	if code != 0 || !strings.Contains(out, "token create --data "+data+" --db "+url+" alice") {
		t.Fatalf("user add: exit %d %s %s", code, out, errs)
	}
	code, out, errs = hoist("token", "create", "--db", url, "--name", "ci", "alice")
	if code != 0 {
		t.Fatalf("token create: exit %d %s", code, errs)
	}
	secret := strings.TrimSpace(out)
	for _, args := range [][]string{
		{"namespace", "add", "--db", url, "--owner", "alice", "team"},
		{"project", "trust", "--db", url, "team/app"},
		{"project", "limits", "--db", url, "team/app", "--memory", "1GiB"},
	} {
		if code, out, errs := hoist(args...); code != 0 {
			t.Errorf("hoist %q: exit %d %s %s", args, code, out, errs)
		}
	}
	if code, out, errs := hoist("token", "list", "--db", url); code != 0 || !strings.Contains(out, "alice") {
		t.Errorf("token list: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := hoist("project", "trust", "--db", url, "team/nope"); code != 1 || !strings.Contains(errs, "no project team/nope:latest in "+url) {
		t.Errorf("trust of a missing project: exit %d %s", code, errs)
	}

	u, err := st.UserByName(ctx, "alice")
	if err != nil || !server.CheckPassword(u.PasswordHash, "correct horse") {
		t.Fatalf("alice in PostgreSQL: %+v, %v", u, err)
	}
	if c, err := st.Credential(ctx, pipeline.CredentialToken, server.HashSecret(secret), time.Now()); err != nil || c.UserID != u.ID || c.Name != "ci" {
		t.Errorf("token in PostgreSQL: %+v, %v", c, err)
	}
	if r, err := st.Role(ctx, "team", u.ID); err != nil || r != pipeline.RoleMaintainer {
		t.Errorf("alice's role in team: %q, %v; want maintainer", r, err)
	}
	if got, err := st.Project(ctx, p.Key()); err != nil || !got.Trusted || got.Limits.Memory != 1<<30 {
		t.Errorf("project in PostgreSQL: trusted %v, limits %+v, %v; want trusted with 1 GiB", got.Trusted, got.Limits, err)
	}
	if _, err := os.Stat(filepath.Join(data, "hoist.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data folder has a hoist.db (%v): --db was not used", err)
	}
}

// TestDBErrors: a --db that names no database Hoist knows, or one it
// cannot reach, fails with one line saying which and how to fix it, never
// showing the password; sqlite:PATH and a bare path are SQLite files.
func TestDBErrors(t *testing.T) {
	closed := closedPort(t)
	for _, tc := range []struct {
		db, want string
	}{
		{"mysql://root:s3cret@db/hoist", `--db mysql://root:xxxxx@db/hoist: unknown database "mysql": use sqlite:PATH (or a path) or postgres://USER@HOST/DB`},
		{"postgres://hoist:s3cret@127.0.0.1:" + closed + "/hoist", "--db postgres://hoist:xxxxx@127.0.0.1:" + closed + "/hoist: connecting to PostgreSQL at hoist@127.0.0.1:" + closed + "/hoist"},
		{"postgresql://hoist:s3cret@127.0.0.1:" + closed + "/hoist?sslmode=disable", "Is PostgreSQL running there, and are the user, password and database right?"},
		{"postgres://hoist:s3cret@127.0.0.1:notaport/hoist", `--db postgres://hoist:xxxxx@127.0.0.1:notaport/hoist: invalid port ":notaport" after host: write postgres://USER[:PASSWORD]@HOST[:PORT]/DB`},
		{"sqlite:", "--db sqlite:: no path: use sqlite:PATH"},
	} {
		code, out, errs := hoist("images", "--data", t.TempDir(), "--db", tc.db)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("--db %s: exit %d %s%s; want exit 1 with %q", tc.db, code, out, errs, tc.want)
		}
		if strings.Contains(out+errs, "s3cret") || strings.Contains(out+errs, "goroutine") {
			t.Errorf("--db %s: the output shows the password or a stack trace:\n%s%s", tc.db, out, errs)
		}
	}
	dir := t.TempDir()
	for _, db := range []string{"sqlite:" + filepath.Join(dir, "a.db"), filepath.Join(dir, "sub", "b.db")} {
		if code, _, errs := hoist("images", "--data", filepath.Join(dir, "data"), "--db", db); code != 0 || !strings.Contains(errs, "nothing delivered yet") {
			t.Errorf("images --db %s: exit %d %s", db, code, errs)
		}
	}
	for _, f := range []string{"a.db", "sub/b.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("--db named %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "hoist.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data folder has a hoist.db (%v): --db was not used", err)
	}
}

// closedPort returns a 127.0.0.1 port nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return strconv.Itoa(port)
}
