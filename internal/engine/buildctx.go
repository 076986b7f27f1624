package engine

import (
	"archive/tar"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// buildContext is a build context ready to be tarred.
type buildContext struct {
	dir        string         // absolute context directory
	ignore     *ignoreMatcher // nil: send everything
	dockerfile string         // path of the Dockerfile inside the tar
	outside    []byte         // content of a Dockerfile outside dir, added as dockerfile
	// ignoreLine, when set, is added to the .dockerignore sent (made when
	// there is none), so that the engine leaves the generated Dockerfile
	// out of the context its COPY and ADD see.
	ignoreLine string
}

// labelled is the name of the Dockerfile with Hoist's labels added, in the
// context's root: fixed, so that the .dockerignore sent, which names it,
// is the same at every build and does not break the cache of COPY . steps.
const labelled = ".dockerfile.hoist"

// newBuildContext reads dir's .dockerignore and works out where the
// Dockerfile (relative to dir, "/"-separated, "" = "Dockerfile") goes.
//
// With labels, the Dockerfile sent is the project's with one LABEL line of
// them added at its end, under another name: dockerd's classic builder makes
// a step, a container and a commit of each label given as a build option.
// Labels with characters that would need escaping (whose escape character
// a Dockerfile may change, and builders read differently) are left out of
// the line and returned, for the build options.
func newBuildContext(dir, dockerfile string, labels map[string]string) (*buildContext, map[string]string, error) {
	bc, err := contextOf(dir, dockerfile)
	plain, rest := splitLabels(labels)
	if err != nil || len(plain) == 0 {
		return bc, labels, err
	}
	content := bc.outside
	if content == nil {
		p, err := filepath.EvalSymlinks(filepath.Join(bc.dir, filepath.FromSlash(bc.dockerfile)))
		if err != nil {
			return nil, nil, fmt.Errorf("reading Dockerfile: %w", err)
		}
		if rel, err := filepath.Rel(bc.dir, p); err != nil || !filepath.IsLocal(rel) {
			return nil, nil, fmt.Errorf("reading Dockerfile: %s leads outside the build context", bc.dockerfile)
		}
		if content, err = os.ReadFile(p); err != nil {
			return nil, nil, fmt.Errorf("reading Dockerfile: %w", err)
		}
	}
	bc.outside = append(append(slices.Clip(content), '\n'), labelLine(plain)...)
	bc.dockerfile, bc.ignoreLine = labelled, labelled
	return bc, rest, nil
}

// splitLabels parts labels into those a double-quoted Dockerfile word
// holds as they are and the others.
func splitLabels(labels map[string]string) (plain, rest map[string]string) {
	for k, v := range labels {
		if strings.ContainsAny(k+v, "\"$`\\\n\r") {
			if rest == nil {
				rest = map[string]string{}
			}
			rest[k] = v
			continue
		}
		if plain == nil {
			plain = map[string]string{}
		}
		plain[k] = v
	}
	return plain, rest
}

// labelLine is one LABEL instruction of labels (none needs escaping),
// sorted, each key and value double-quoted.
func labelLine(labels map[string]string) string {
	var b strings.Builder
	b.WriteString("LABEL")
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, ` "%s"="%s"`, k, labels[k])
	}
	b.WriteString("\n")
	return b.String()
}

// contextOf is newBuildContext without labels.
func contextOf(dir, dockerfile string) (*buildContext, error) {
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
		if err := writeEntry(tw, bc.dockerfile, bc.outside); err != nil {
			return fmt.Errorf("archiving Dockerfile: %w", err)
		}
	}
	if bc.ignoreLine != "" {
		ignore, err := os.ReadFile(filepath.Join(bc.dir, ".dockerignore"))
		if errors.Is(err, fs.ErrNotExist) {
			// None of the project's: this one leaves itself out too.
			ignore, err = []byte(".dockerignore"), nil
		}
		if err != nil {
			return fmt.Errorf("reading .dockerignore: %w", err)
		}
		ignore = append(append(slices.Clip(ignore), '\n'), bc.ignoreLine+"\n"...)
		if err := writeEntry(tw, ".dockerignore", ignore); err != nil {
			return fmt.Errorf("archiving .dockerignore: %w", err)
		}
	}
	return tw.Close()
}

// writeEntry writes a regular file of content, named name, to tw.
func writeEntry(tw *tar.Writer, name string, content []byte) error {
	// A fixed time: the same content makes the same entry at every build.
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(content)
	return err
}

// add writes one walked entry to tw, or skips it (or its whole directory)
// when .dockerignore excludes it.
func (bc *buildContext) add(tw *tar.Writer, p string, d fs.DirEntry) error {
	rel, err := filepath.Rel(bc.dir, p)
	if err != nil || rel == "." {
		return err
	}
	rel = filepath.ToSlash(rel)
	if bc.ignoreLine != "" && (rel == ".dockerignore" || rel == labelled) {
		return nil // written by write, with the line added; or replaced
	}
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
