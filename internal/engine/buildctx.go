package engine

import (
	"archive/tar"
	"crypto/rand"
	"encoding/hex"
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

// buildContext is a build context ready to be tarred.
type buildContext struct {
	dir        string         // absolute context directory
	ignore     *ignoreMatcher // nil: send everything
	dockerfile string         // path of the Dockerfile inside the tar
	outside    []byte         // content of a Dockerfile outside dir, added as dockerfile
}

// newBuildContext reads dir's .dockerignore and works out where the
// Dockerfile (relative to dir, "/"-separated, "" = "Dockerfile") goes.
func newBuildContext(dir, dockerfile string) (*buildContext, error) {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	root, err := filepath.EvalSymlinks(dir) // walk the directory a linked context points to
	if err != nil {
		return nil, err
	}
	bc := &buildContext{dir: root, dockerfile: path.Clean(dockerfile)}
	if err := bc.readIgnore(); err != nil {
		return nil, err
	}
	if path.IsAbs(bc.dockerfile) || bc.dockerfile == ".." || strings.HasPrefix(bc.dockerfile, "../") {
		content, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(dockerfile)))
		if err != nil {
			return nil, fmt.Errorf("reading Dockerfile: %w", err)
		}
		bc.outside = content
		bc.dockerfile = ".dockerfile." + randomHex(10)
		return bc, nil
	}
	if bc.ignore != nil {
		bc.ignore.keep(bc.dockerfile, ".dockerignore")
	}
	return bc, nil
}

// readIgnore loads dir/.dockerignore when there is one.
func (bc *buildContext) readIgnore() error {
	f, err := os.Open(filepath.Join(bc.dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading .dockerignore: %w", err)
	}
	defer f.Close()
	bc.ignore, err = parseIgnore(f)
	return err
}

// stream returns a reader of the tarred context, written as it is read.
func (bc *buildContext) stream() io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(bc.write(pw)) }()
	return pr
}

// write tars the context into w: every file not excluded, symlinks kept as
// symlinks (never followed), owned by root, plus an outside Dockerfile.
func (bc *buildContext) write(w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(bc.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return bc.add(tw, p, d)
	})
	if err != nil {
		return fmt.Errorf("archiving build context %s: %w", bc.dir, err)
	}
	if bc.outside != nil {
		hdr := &tar.Header{Name: bc.dockerfile, Mode: 0o644, Size: int64(len(bc.outside)), ModTime: time.Now(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archiving Dockerfile: %w", err)
		}
		if _, err := tw.Write(bc.outside); err != nil {
			return fmt.Errorf("archiving Dockerfile: %w", err)
		}
	}
	return tw.Close()
}

// add writes one walked entry to tw, or skips it (or its whole directory)
// when .dockerignore excludes it.
func (bc *buildContext) add(tw *tar.Writer, p string, d fs.DirEntry) error {
	rel, err := filepath.Rel(bc.dir, p)
	if err != nil || rel == "." {
		return err
	}
	rel = filepath.ToSlash(rel)
	if bc.ignore.excluded(rel) {
		if d.IsDir() && !bc.ignore.exceptions {
			return filepath.SkipDir
		}
		return nil
	}
	info, err := d.Info()
	if err != nil {
		return err
	}
	if info.Mode()&fs.ModeSocket != 0 {
		return nil
	}
	hdr, err := bc.header(p, rel, info)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	return copyFile(tw, p)
}

// header is the tar header for one file of the context.
func (bc *buildContext) header(p, rel string, info fs.FileInfo) (*tar.Header, error) {
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(p); err != nil {
			return nil, err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return nil, err
	}
	hdr.Name = rel
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	return hdr, nil
}

// copyFile copies the file at p into tw.
func copyFile(tw *tar.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
