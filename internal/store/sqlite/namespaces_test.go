package sqlite

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestExistingUsersBecomeAdmins rolls a database back to before owners
// (migration 00012), adds a user there, and opens it again: the user
// became an admin, so that they keep doing what they could; a user added
// afterwards is not one.
func TestExistingUsersBecomeAdmins(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hoist.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, fsys, goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatalf("rolling back to before owners: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO users (name, password_hash, created) VALUES ('old', 'x', 1)`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.UserByName(ctx, "old"); err != nil || !u.Admin {
		t.Errorf("a user from before owners = %+v, %v; want an admin", u, err)
	}
	u := pipeline.User{Name: "new", PasswordHash: "x"}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UserByName(ctx, "new"); err != nil || u.Admin {
		t.Errorf("a user added after the migration = %+v, %v; want no admin", u, err)
	}
}
