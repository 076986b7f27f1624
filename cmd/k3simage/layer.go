package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// writeFiles writes a layer of specs (see the command's doc): files,
// folder trees, empty folders and symbolic links, with the folders above
// each.
func writeFiles(w io.Writer, specs []string) error {
	l := &layer{tw: tar.NewWriter(w), seen: map[string]bool{}}
	for _, spec := range specs {
		if err := l.add(spec); err != nil {
			return err
		}
	}
	return l.tw.Close()
}

// layer is a layer being written; seen holds the names written already.
type layer struct {
	tw   *tar.Writer
	seen map[string]bool
}

func (l *layer) add(spec string) error {
	if link, target, ok := strings.Cut(spec, "->"); ok {
		link = strings.Trim(link, "/")
		if link == "" || target == "" {
			return fmt.Errorf("%q: want LINK->TARGET", spec)
		}
		return l.symlink(link, target)
	}
	if !strings.Contains(spec, "=") && strings.HasSuffix(spec, "/") {
		return l.mkdirs(strings.Trim(spec, "/"))
	}
	src, dst, ok := strings.Cut(spec, "=")
	dst = strings.Trim(dst, "/")
	if !ok || dst == "" {
		return fmt.Errorf("%q: want SRC=DST, DIR/ for an empty folder, or LINK->TARGET", spec)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return l.tree(src, dst)
	}
	return l.file(src, dst, fi.Mode())
}

// mkdirs writes dir and the folders above it that are not written yet.
func (l *layer) mkdirs(dir string) error {
	var parts []string
	for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		parts = append([]string{d}, parts...)
	}
	for _, d := range parts {
		if l.seen[d] {
			continue
		}
		l.seen[d] = true
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := l.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}); err != nil {
			return err
		}
	}
	return nil
}

// file writes the content of src (a symbolic link followed) at dst.
func (l *layer) file(src, dst string, mode fs.FileMode) error {
	if l.seen[dst] {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := l.mkdirs(path.Dir(dst)); err != nil {
		return err
	}
	l.seen[dst] = true
	if err := l.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: int64(mode.Perm()), Size: int64(len(data))}); err != nil {
		return err
	}
	_, err = l.tw.Write(data)
	return err
}

// symlink writes a symbolic link at name to target.
func (l *layer) symlink(name, target string) error {
	if l.seen[name] {
		return nil
	}
	if err := l.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	l.seen[name] = true
	return l.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
}

// tree writes the folder src at dst: its folders, regular files and
// symbolic links (as links, not followed).
func (l *layer) tree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return l.mkdirs(name)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return l.symlink(name, target)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return l.file(p, name, fi.Mode())
		default:
			return fmt.Errorf("%s: neither a file, a folder nor a symbolic link", p)
		}
	})
}
