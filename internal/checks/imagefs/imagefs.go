// Package imagefs reads an image's filesystem from its layers, as the
// registry serves them, without running the image: it works on FROM scratch
// images and on images whose shell is broken. Read applies the layers in
// order the way an overlay filesystem does (whiteouts, opaque directories,
// hard links) and gives the merged view the container would see.
package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// File is one entry of an image's filesystem.
type File struct {
	Path string      // absolute, cleaned: "/etc/passwd"
	Mode fs.FileMode // type bits and permissions, as os.FileMode has them
	UID  int
	GID  int
	Size int64
	// Link is a symlink's target as written, or a hard link's target path
	// (absolute, cleaned).
	Link    string
	Layer   int // index of the layer that last wrote it, base layer 0
	ModTime time.Time
}

// Options tune Read.
type Options struct {
	// Keep reports whether to keep the content of the regular file at path
	// (size bytes) in memory, for ReadFile without another read of its
	// layer.
	Keep func(path string, size int64) bool
	// Visit, if set, is called for every regular file of every layer, in
	// layer order — including files a later layer deletes or replaces —
	// with its content. Hard links are not visited again: their content is
	// their target's. Its error stops Read.
	Visit func(f File, content io.Reader) error
	// Removed, if set, is called for each entry of the view that layer
	// deletes: by a whiteout, an opaque folder, or a folder replaced by a
	// file. Entries a layer overwrites are not reported (their new Layer
	// tells).
	Removed func(path string, layer int)
}

// FS is the merged filesystem of an image. It is safe for concurrent use.
type FS struct {
	ctx     context.Context
	lr      pipeline.LayerReader
	ref     string
	removed func(path string, layer int)
	entries map[string]*entry
	layers  int
}

// entry is a File and where its content lives.
type entry struct {
	File
	data     []byte // the content, when kept
	kept     bool
	srcLayer int    // the layer whose tar holds the content
	srcName  string // the tar entry that holds it ("" : none, a dangling hard link)
}

// maxHops bounds symlink resolution, as Linux's ELOOP does.
const maxHops = 40

// visitError carries an error of Options.Visit through Read unchanged.
type visitError struct{ err error }

func (v visitError) Error() string { return v.err.Error() }

// Read builds the merged view of ref's layers, read through lr (whiteouts
// ".wh.NAME" and opaque directories ".wh..wh..opq" applied, hard links
// resolved). Directories a file implies but the layer tar lacks exist with
// mode 0755 and owner 0:0. ctx also bounds later ReadFile calls that have to
// read a layer again. An error of opts.Visit is returned as it is.
func Read(ctx context.Context, lr pipeline.LayerReader, ref string, opts Options) (*FS, error) {
	f := &FS{ctx: ctx, lr: lr, ref: ref, removed: opts.Removed, entries: map[string]*entry{}}
	f.entries["/"] = &entry{File: File{Path: "/", Mode: fs.ModeDir | 0o755}}
	err := lr.ReadLayers(ctx, ref, func(index int, digest string, r io.Reader) error {
		f.layers = index + 1
		err := f.apply(index, r, opts)
		var ve visitError
		if err != nil && !errors.As(err, &ve) {
			return fmt.Errorf("layer %d (%s) of %s: %w", index, digest, ref, err)
		}
		return err
	})
	if ve := (visitError{}); errors.As(err, &ve) {
		return nil, ve.err
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// clean makes a tar name an absolute, cleaned path.
func clean(name string) string { return path.Clean("/" + name) }

// apply merges one layer's tar stream into the view.
func (f *FS) apply(layer int, r io.Reader, opts Options) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the layer tar: %w", err)
		}
		p := clean(h.Name)
		dir, base := path.Split(p)
		dir = path.Clean(dir)
		switch {
		case base == ".wh..wh..opq":
			f.removeBelow(dir, layer, false)
			f.mkdirs(dir, layer)
			continue
		case strings.HasPrefix(base, ".wh."):
			f.removeBelow(path.Join(dir, base[len(".wh."):]), layer, true)
			continue
		}
		e := &entry{File: File{
			Path:    p,
			Mode:    h.FileInfo().Mode(),
			UID:     h.Uid,
			GID:     h.Gid,
			Layer:   layer,
			ModTime: h.ModTime,
		}}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.Size, e.srcLayer, e.srcName = h.Size, layer, h.Name
			if err := f.content(e, tr, opts); err != nil {
				return err
			}
		case tar.TypeLink:
			e.Link = clean(h.Linkname)
			if t, ok := f.entries[e.Link]; ok && t.Mode.IsRegular() {
				e.Mode, e.UID, e.GID, e.Size = t.Mode, t.UID, t.GID, t.Size
				e.data, e.kept, e.srcLayer, e.srcName = t.data, t.kept, t.srcLayer, t.srcName
			}
		case tar.TypeSymlink:
			e.Link = h.Linkname
		}
		if p == "/" {
			if e.Mode.IsDir() {
				f.entries["/"] = e
			}
			continue
		}
		if old, ok := f.entries[p]; ok && old.Mode.IsDir() && !e.Mode.IsDir() {
			f.removeBelow(p, layer+1, false)
		}
		f.mkdirs(path.Dir(p), layer)
		f.entries[p] = e
	}
}

// content keeps and visits a regular file's content.
func (f *FS) content(e *entry, r io.Reader, opts Options) error {
	if opts.Keep != nil && opts.Keep(e.Path, e.Size) {
		data, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.Path, err)
		}
		e.data, e.kept = data, true
		r = bytes.NewReader(data)
	}
	if opts.Visit != nil {
		if err := opts.Visit(e.File, r); err != nil {
			return visitError{err}
		}
	}
	return nil
}

// removeBelow removes what lies under p, and p itself when self, that an
// earlier layer than layer wrote. A folder that keeps entries of layer
// itself stays, as written by layer. Every entry's folders are in the view,
// so only a folder has anything under it.
func (f *FS) removeBelow(p string, layer int, self bool) {
	e, ok := f.entries[p]
	if !ok {
		return
	}
	if !e.Mode.IsDir() {
		if self && e.Layer < layer {
			f.remove(p)
		}
		return
	}
	prefix := p + "/"
	if p == "/" {
		prefix, self = "/", false
	}
	kept := false
	for k, c := range f.entries {
		if k == "/" || !strings.HasPrefix(k, prefix) {
			continue
		}
		if c.Layer < layer {
			f.remove(k)
		} else {
			kept = true
		}
	}
	switch {
	case self && kept:
		e.Layer = layer
	case self && e.Layer < layer:
		f.remove(p)
	}
}

// remove deletes p from the view, as the layer being applied does.
func (f *FS) remove(p string) {
	delete(f.entries, p)
	if f.removed != nil {
		f.removed(p, f.layers-1)
	}
}

// mkdirs makes dir and its parents exist as directories.
func (f *FS) mkdirs(dir string, layer int) {
	for d := dir; d != "/"; d = path.Dir(d) {
		if e, ok := f.entries[d]; ok {
			if e.Mode.IsDir() {
				return
			}
			f.removeBelow(d, layer+1, false)
		}
		f.entries[d] = &entry{File: File{Path: d, Mode: fs.ModeDir | 0o755, Layer: layer}}
	}
}

// Layers returns how many layers the image has.
func (f *FS) Layers() int { return f.layers }

// resolve returns the entry p names, following symlinks in its folders, and
// in its last element too when follow is set.
func (f *FS) resolve(p string, follow bool) (*entry, bool) {
	rest := strings.Split(p, "/")
	cur := "/"
	hops := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		e, ok := f.entries[next]
		if !ok {
			return nil, false
		}
		if e.Mode&fs.ModeSymlink == 0 || (len(rest) == 0 && !follow) {
			if len(rest) > 0 && !e.Mode.IsDir() {
				return nil, false
			}
			cur = next
			continue
		}
		if hops++; hops > maxHops {
			return nil, false
		}
		if strings.HasPrefix(e.Link, "/") {
			cur = "/"
		}
		rest = append(strings.Split(e.Link, "/"), rest...)
	}
	e, ok := f.entries[cur]
	return e, ok
}

// Lstat returns the entry at path without following a final symlink
// (symlinks in its folders are followed).
func (f *FS) Lstat(p string) (File, bool) {
	e, ok := f.resolve(p, false)
	if !ok {
		return File{}, false
	}
	return e.File, true
}

// Stat returns the entry at path, following symlinks inside the image:
// absolute targets from the image's root, relative ones from the link's
// folder. A loop or a dangling link is not found.
func (f *FS) Stat(p string) (File, bool) {
	e, ok := f.resolve(p, true)
	if !ok {
		return File{}, false
	}
	return e.File, true
}

// errFound stops ReadLayers once the file was read.
var errFound = errors.New("found")

// ReadFile returns the content of the regular file at path, following
// symlinks: kept content from memory, otherwise read again from the file's
// layer. A missing file is an error wrapping fs.ErrNotExist.
func (f *FS) ReadFile(p string) ([]byte, error) {
	e, ok := f.resolve(p, true)
	switch {
	case !ok:
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	case e.Mode.IsDir():
		return nil, fmt.Errorf("reading %s in %s: is a directory", p, f.ref)
	case !e.Mode.IsRegular():
		return nil, fmt.Errorf("reading %s in %s: not a regular file (%s)", p, f.ref, e.Mode)
	case e.kept:
		return e.data, nil
	case e.srcName == "":
		return nil, fmt.Errorf("reading %s in %s: hard link to %s, which the layers do not hold", p, f.ref, e.Link)
	}
	var data []byte
	err := f.lr.ReadLayers(f.ctx, f.ref, func(index int, _ string, r io.Reader) error {
		if index < e.srcLayer {
			return nil
		}
		if index > e.srcLayer {
			return errFound
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return fmt.Errorf("%s is no longer in layer %d", e.srcName, index)
			}
			if err != nil {
				return err
			}
			if h.Name == e.srcName && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA) {
				data, err = io.ReadAll(tr)
				if err != nil {
					return err
				}
				return errFound
			}
		}
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, fmt.Errorf("reading %s in %s: %w", p, f.ref, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// Walk calls fn for every entry of the merged view, sorted by path, and
// stops at its first error, which it returns.
func (f *FS) Walk(fn func(File) error) error {
	for _, p := range f.paths() {
		if err := fn(f.entries[p].File); err != nil {
			return err
		}
	}
	return nil
}

// Glob returns the paths of the merged view that match pattern (path.Match
// syntax, against absolute paths: "/etc/*.conf"), sorted. A malformed
// pattern matches nothing.
func (f *FS) Glob(pattern string) []string {
	var out []string
	for _, p := range f.paths() {
		if p == "/" && pattern != "/" {
			continue // "/*" means what is in the root
		}
		if ok, _ := path.Match(pattern, p); ok {
			out = append(out, p)
		}
	}
	return out
}

func (f *FS) paths() []string {
	ps := make([]string, 0, len(f.entries))
	for p := range f.entries {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}
