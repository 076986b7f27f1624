package sqlite

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// mode returns the permission bits of path.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestDatabaseIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "hoist.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutProject(t.Context(), pipeline.Project{AppID: "a", JobID: "x", Tag: "latest", GitURL: "u"}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("the data folder is %v, want 0700", m)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s is %v, want 0600", filepath.Base(p), m)
		}
	}
}

func TestOpenMakesAnOldDatabasePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil { // as an older Hoist made it
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m := mode(t, path); m != 0o600 {
		t.Errorf("hoist.db is %v after Open, want 0600", m)
	}
}
