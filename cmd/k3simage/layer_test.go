package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteFiles: a folder is copied as a tree with its links kept as
// links, a file is followed, LINK->TARGET is a link, the folders above
// are written once, and a name given twice is written once.
func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("core/git", "git", 0o755)
	write("core/sub/script", "#!/bin/sh", 0o755)
	write("lib.so.1.2", "lib", 0o644)
	for _, l := range [][2]string{{"git", "core/git-add"}, {"lib.so.1.2", "lib.so.1"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	err := writeFiles(&buf, []string{
		filepath.Join(dir, "core") + "=/usr/lib/git-core",
		filepath.Join(dir, "lib.so.1") + "=/lib/x/lib.so.1",
		filepath.Join(dir, "lib.so.1") + "=/lib/x/lib.so.1",
		"/usr/bin/git->../lib/git-core/git",
		"tmp/",
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e := fmt.Sprintf("%c %s %o", h.Typeflag, h.Name, h.Mode)
		if h.Linkname != "" {
			e += " -> " + h.Linkname
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			e += " " + string(b)
		}
		got = append(got, e)
	}
	want := []string{
		"5 usr/ 755", "5 usr/lib/ 755", "5 usr/lib/git-core/ 755",
		"0 usr/lib/git-core/git 755 git",
		"2 usr/lib/git-core/git-add 777 -> git",
		"5 usr/lib/git-core/sub/ 755",
		"0 usr/lib/git-core/sub/script 755 #!/bin/sh",
		"5 lib/ 755", "5 lib/x/ 755",
		"0 lib/x/lib.so.1 644 lib",
		"5 usr/bin/ 755",
		"2 usr/bin/git 777 -> ../lib/git-core/git",
		"5 tmp/ 1777",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layer (-want +got):\n%s", diff)
	}
}
