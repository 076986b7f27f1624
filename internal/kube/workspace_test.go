package kube

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWorkspaceRoundTrip(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(src, "a", "b.txt"), "b\n", 0o644)
	mustWrite(t, filepath.Join(src, "run.sh"), "#!/bin/sh\n", 0o755)
	if err := os.Symlink("a/b.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	// What dst had: a stale file, a folder where src has a file, a link
	// where src has a file.
	mustWrite(t, filepath.Join(dst, "stale", "x"), "x", 0o644)
	mustWrite(t, filepath.Join(dst, "run.sh", "inside"), "x", 0o644)
	outside := filepath.Join(t.TempDir(), "victim")
	mustWrite(t, outside, "untouched", 0o644)
	if err := os.MkdirAll(filepath.Join(dst, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dst, "a", "b.txt")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeWorkspace(&buf, src); err != nil {
		t.Fatal(err)
	}
	if err := readWorkspace(dst, &buf); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "a", "b.txt")); err != nil || string(b) != "b\n" {
		t.Errorf("a/b.txt = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "run.sh")); err != nil || fi.Mode().Perm() != 0o755 || !fi.Mode().IsRegular() {
		t.Errorf("run.sh: %v, %v; want an executable file", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "a/b.txt" {
		t.Errorf("link -> %q, %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "stale")); !os.IsNotExist(err) {
		t.Errorf("stale: %v; want it removed", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "untouched" {
		t.Errorf("a file outside the workspace was written through a link: %q", b)
	}
}

func TestReadWorkspaceStaysInside(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []tar.Header
	}{
		{"a file through a link out", []tar.Header{
			{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "etc/pwned", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		}},
		{"a relative link out", []tar.Header{
			{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../.." + outside},
			{Name: "up/pwned", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		}},
		{"dot-dot", []tar.Header{{Name: "../pwned", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}}},
		{"absolute", []tar.Header{{Name: outside + "/pwned", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}}},
		{"a hard link out", []tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../" + filepath.Base(outside) + "/x"}}},
		{"a device", []tar.Header{{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				if h.Size > 0 {
					tw.Write([]byte("x"))
				}
			}
			tw.Close()
			ws := t.TempDir()
			err := readWorkspace(ws, &buf)
			if err == nil {
				t.Errorf("readWorkspace: nil; want it refused")
			}
			if _, serr := os.Lstat(filepath.Join(outside, "pwned")); serr == nil {
				t.Errorf("a file was written outside the workspace (err %v)", err)
			}
			if _, serr := os.Lstat(filepath.Join(ws, "null")); serr == nil {
				t.Errorf("a device was made in the workspace")
			}
		})
	}
}

func mustWrite(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
