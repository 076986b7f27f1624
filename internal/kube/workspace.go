package kube

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// What a workspace copied back from a pod may hold: the tar comes from a
// pod in which code Hoist does not trust ran, so its size and number of
// entries are bounded.
const (
	maxWorkspaceBytes   = 8 << 30
	maxWorkspaceEntries = 1 << 20
)

// writeWorkspace writes the folder ws as a tar stream to w: folders,
// regular files and symbolic links (as links), nothing else. Names are
// relative to ws; owners are left out (the pod's user owns what it
// unpacks).
func writeWorkspace(w io.Writer, ws string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(ws, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.IsDir(), fi.Mode().IsRegular():
		default:
			return nil // sockets, pipes, devices: nothing a script needs
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		// busybox tar reads GNU long names; times in whole seconds.
		hdr.Format = tar.FormatGNU
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, hdr.Size)
		return err
	})
	if err != nil {
		return fmt.Errorf("packing the workspace %s: %w", ws, err)
	}
	return tw.Close()
}

// readWorkspace makes the folder ws what the tar stream r holds: what r
// has is written (replacing what was there), and what ws has that r has
// not is removed, once r has been read to its end. r comes from code Hoist
// does not trust: every name is resolved inside ws (os.Root: neither ".."
// nor a symbolic link leads out of it), devices and pipes are refused, and
// the size and number of entries are bounded.
func readWorkspace(ws string, r io.Reader) error {
	root, err := os.OpenRoot(ws)
	if err != nil {
		return err
	}
	defer root.Close()
	seen := map[string]bool{}
	var total int64
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the workspace's tar stream: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		if len(seen) >= maxWorkspaceEntries {
			return fmt.Errorf("the workspace holds more than %d files", maxWorkspaceEntries)
		}
		if total += hdr.Size; total > maxWorkspaceBytes {
			return fmt.Errorf("the workspace holds more than %d GiB", maxWorkspaceBytes>>30)
		}
		for p := name; p != "."; p = path.Dir(p) {
			seen[p] = true
		}
		if err := readEntry(root, tr, hdr, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return removeUnseen(root, seen)
}

// entryName is a tar entry's name as a path inside the workspace ("." for
// the workspace itself); names that lead outside it are refused.
func entryName(n string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(n, "./"))
	if clean == "." || clean == "" {
		return ".", nil
	}
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("the workspace's tar stream names %q, outside the workspace", n)
	}
	return clean, nil
}

// readEntry writes one entry of the stream at name.
func readEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, name string) error {
	fi, err := root.Lstat(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && fi.IsDir() {
			return root.Chmod(name, hdr.FileInfo().Mode().Perm()|0o700)
		}
		if exists {
			if err := root.RemoveAll(name); err != nil {
				return err
			}
		}
		return root.Mkdir(name, hdr.FileInfo().Mode().Perm()|0o700)
	case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		return fmt.Errorf("is a %s: a workspace holds only files, folders and links", typeName(hdr.Typeflag))
	}
	// A file, a link: what was there goes (never written through: it may
	// be a link itself).
	if exists {
		if err := root.RemoveAll(name); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return err
		}
		return root.Link(target, name)
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, tr)
	if err == nil {
		err = f.Chmod(hdr.FileInfo().Mode().Perm())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !hdr.ModTime.IsZero() {
		err = root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	}
	return err
}

// removeUnseen removes from root what the stream did not hold: what the
// script deleted.
func removeUnseen(root *os.Root, seen map[string]bool) error {
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." || seen[p] {
			return nil
		}
		if err := root.RemoveAll(p); err != nil {
			return err
		}
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
}

func typeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}
