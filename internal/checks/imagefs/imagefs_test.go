package imagefs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hoistci/hoist/internal/checks/checktest"
	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
)

type visited struct {
	path    string
	layer   int
	content string
}

func TestRead(t *testing.T) {
	v := checktest.New(t)
	ref, _ := v.Push(t, checktest.Image{Repo: "imagefs", Busybox: true, Dockerfile: `FROM scratch
COPY rootfs/ /
RUN mkdir -p /data/opq /data/gone && echo secret > /data/gone/key && echo a > /data/opq/a && echo keep > /data/keep.txt
RUN rm /data/gone/key && rm -rf /data/opq && mkdir /data/opq && echo b > /data/opq/b
RUN ln -s /data/keep.txt /data/abs && ln -s keep.txt /data/rel && ln -s ../opq/./../keep.txt /data/opq/up && ln -s loop2 /data/loop1 && ln -s loop1 /data/loop2 && ln -s /data /data/opq/dirlink && ln -s nowhere /data/dangling
RUN echo hard > /data/h1 && ln /data/h1 /data/h2 && echo owned > /data/owned && chown 1234:5678 /data/owned && chmod 4750 /data/owned
`})

	var seen []visited
	removed := map[string]int{}
	kept := map[string]bool{}
	f, err := imagefs.Read(t.Context(), registry.New(registry.Options{}), ref, imagefs.Options{
		Keep:    func(p string, size int64) bool { kept[p] = true; return p == "/data/keep.txt" },
		Removed: func(p string, layer int) { removed[p] = layer },
		Visit: func(file imagefs.File, r io.Reader) error {
			if strings.HasPrefix(file.Path, "/data/") {
				b, err := io.ReadAll(r)
				if err != nil {
					return err
				}
				seen = append(seen, visited{file.Path, file.Layer, string(b)})
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.Layers() != 5 {
		t.Errorf("Layers() = %d, want 5", f.Layers())
	}

	// Visit saw the deleted key and the replaced opaque dir's file, in layer order.
	want := []visited{{"/data/gone/key", 1, "secret\n"}, {"/data/keep.txt", 1, "keep\n"}, {"/data/opq/a", 1, "a\n"}, {"/data/opq/b", 2, "b\n"}}
	var got1 []visited
	for _, s := range seen {
		if s.layer <= 2 {
			got1 = append(got1, s)
		}
	}
	if !slices.Equal(got1, want) {
		t.Errorf("visited %v, want %v", got1, want)
	}
	if removed["/data/gone/key"] != 2 || removed["/data/opq/a"] != 2 || len(removed) != 2 {
		t.Errorf("Removed saw %v, want /data/gone/key and /data/opq/a in layer 2", removed)
	}
	if !kept["/data/keep.txt"] || !kept["/bin/busybox"] {
		t.Errorf("Keep not asked for every regular file: %v", kept)
	}

	// The merged view.
	if _, ok := f.Lstat("/data/gone/key"); ok {
		t.Error("/data/gone/key, deleted in layer 2, is in the view")
	}
	if d, ok := f.Lstat("/data/gone"); !ok || !d.Mode.IsDir() {
		t.Errorf("/data/gone: %+v %v, want the directory left", d, ok)
	}
	if _, ok := f.Lstat("/data/opq/a"); ok {
		t.Error("/data/opq/a, hidden by an opaque directory, is in the view")
	}
	if b, ok := f.Lstat("/data/opq/b"); !ok || b.Layer != 2 {
		t.Errorf("/data/opq/b: %+v %v, want it from layer 2", b, ok)
	}

	// Symlinks.
	for _, tc := range []struct {
		path, content string
	}{
		{"/data/keep.txt", "keep\n"},
		{"/data/abs", "keep\n"},
		{"/data/rel", "keep\n"},
		{"/data/opq/up", "keep\n"},
		{"/data/opq/dirlink/rel", "keep\n"},
		{"/data/opq/dirlink/opq/b", "b\n"},
		{"/data/opq/dirlink/../data/keep.txt", "keep\n"},
		{"//data/./opq/../keep.txt", "keep\n"},
		{"/data/h1", "hard\n"},
		{"/data/h2", "hard\n"},
		{"/data/owned", "owned\n"},
	} {
		b, err := f.ReadFile(tc.path)
		if err != nil || string(b) != tc.content {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", tc.path, b, err, tc.content)
		}
	}
	for _, p := range []string{"/data/loop1", "/data/dangling", "/data/gone/key", "/nope", "/data/keep.txt/x", "/data/opq/dirlink/../opq/b"} {
		if _, ok := f.Stat(p); ok {
			t.Errorf("Stat(%s) found it", p)
		}
		if _, err := f.ReadFile(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%s): %v, want fs.ErrNotExist", p, err)
		}
	}
	if l, ok := f.Lstat("/data/abs"); !ok || l.Mode.String() != "Lrwxrwxrwx" || l.Link != "/data/keep.txt" || l.Layer != 3 {
		t.Errorf("Lstat(/data/abs) = %+v (%s)", l, l.Mode)
	}
	if s, ok := f.Stat("/data/abs"); !ok || s.Path != "/data/keep.txt" || !s.Mode.IsRegular() || s.Size != 5 {
		t.Errorf("Stat(/data/abs) = %+v", s)
	}
	if l, ok := f.Lstat("/data/loop1"); !ok || l.Link != "loop2" {
		t.Errorf("Lstat(/data/loop1) = %+v %v", l, ok)
	}

	// Hard links, owners and permissions.
	h1, _ := f.Lstat("/data/h1")
	h2, _ := f.Lstat("/data/h2")
	if h1.Link == "" == (h2.Link == "") || h1.Size != 5 || h2.Size != 5 || !h1.Mode.IsRegular() || !h2.Mode.IsRegular() {
		t.Errorf("hard links: %+v and %+v, want one linking to the other, both regular of 5 bytes", h1, h2)
	}
	if o, _ := f.Lstat("/data/owned"); o.UID != 1234 || o.GID != 5678 || o.Mode.String() != "urwxr-x---" || o.Layer != 4 {
		t.Errorf("/data/owned: %+v (%s)", o, o.Mode)
	}
	if b, _ := f.Lstat("/bin/busybox"); b.Mode.String() != "-rwxr-xr-x" || b.Layer != 0 || b.Size < 100000 {
		t.Errorf("/bin/busybox: %+v (%s)", b, b.Mode)
	}
	if d, _ := f.Stat("/data"); d.Mode.String() != "drwxr-xr-x" {
		t.Errorf("/data: %s", d.Mode)
	}

	// Walk and Glob.
	var walked []string
	if err := f.Walk(func(file imagefs.File) error { walked = append(walked, file.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(walked) || walked[0] != "/" || !slices.Contains(walked, "/data/opq/dirlink") || slices.Contains(walked, "/data/opq/a") {
		t.Errorf("Walk: %v", walked)
	}
	if g := f.Glob("/data/opq/*"); !slices.Equal(g, []string{"/data/opq/b", "/data/opq/dirlink", "/data/opq/up"}) {
		t.Errorf("Glob(/data/opq/*) = %v", g)
	}
	stop := errors.New("stop")
	if err := f.Walk(func(imagefs.File) error { return stop }); err != stop {
		t.Errorf("Walk returned %v, want the callback's error", err)
	}

	// A Visit error stops Read and comes back unchanged.
	_, err = imagefs.Read(t.Context(), registry.New(registry.Options{}), ref, imagefs.Options{Visit: func(imagefs.File, io.Reader) error { return stop }})
	if err != stop {
		t.Errorf("Read with a failing Visit: %v, want stop", err)
	}
}

func TestScratch(t *testing.T) {
	v := checktest.New(t)
	ref, _ := v.Push(t, checktest.Image{Repo: "imagefs", Dockerfile: "FROM scratch\nCOPY hello /app/hello\nCMD [\"/app/hello\"]\n", Files: map[string]string{"hello": "not really a program\n"}})
	f, err := imagefs.Read(t.Context(), registry.New(registry.Options{}), ref, imagefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Layers() != 1 {
		t.Errorf("Layers() = %d", f.Layers())
	}
	if _, ok := f.Stat("/bin/sh"); ok {
		t.Error("a scratch image has /bin/sh")
	}
	b, err := f.ReadFile("/app/hello")
	if err != nil || string(b) != "not really a program\n" {
		t.Errorf("ReadFile(/app/hello) = %q, %v (read again from the registry)", b, err)
	}
	if g := f.Glob("/*"); !slices.Equal(g, []string{"/app"}) {
		t.Errorf("Glob(/*) = %v", g)
	}
}

// TestCraftedLayers pushes layers no engine writes: files without their
// folders, a whiteout of a whole directory, a hard link into a lower layer,
// a directory replaced by a file.
func TestCraftedLayers(t *testing.T) {
	v := checktest.New(t)
	type ent struct {
		name, link, content string
		typ                 byte
	}
	layer := func(ents ...ent) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range ents {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.content))}
			if e.typ != tar.TypeReg {
				h.Size = 0
			}
			if e.typ == tar.TypeDir {
				h.Mode = 0o700
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Size > 0 {
				tw.Write([]byte(e.content))
			}
		}
		tw.Close()
		return buf.Bytes()
	}
	layers := [][]byte{
		layer(ent{name: "a/b/c/file", content: "deep", typ: tar.TypeReg}, ent{name: "x/y", content: "y", typ: tar.TypeReg}, ent{name: "d/", typ: tar.TypeDir}, ent{name: "d/inner", content: "i", typ: tar.TypeReg}, ent{name: "o/old", content: "o", typ: tar.TypeReg}, ent{name: "o/sub/deep", content: "o", typ: tar.TypeReg}, ent{name: "k/old", content: "k", typ: tar.TypeReg}),
		layer(ent{name: "a/.wh.b", typ: tar.TypeReg}, ent{name: "x/hard", link: "x/y", typ: tar.TypeLink}, ent{name: "d", content: "now a file", typ: tar.TypeReg}, ent{name: "o/new", content: "n", typ: tar.TypeReg}, ent{name: "o/.wh..wh..opq", typ: tar.TypeReg}, ent{name: "k/new", content: "k", typ: tar.TypeReg}, ent{name: ".wh.k", typ: tar.TypeReg}, ent{name: ".wh.nothing", typ: tar.TypeReg}),
	}
	img := empty.Image
	for _, l := range layers {
		data := l
		tl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, tl); err != nil {
			t.Fatal(err)
		}
	}
	ref := v.Host + "/imagefs/crafted:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}

	// Before the second layer: implied folders exist.
	var layer0 *imagefs.FS
	lr := firstLayers{registry.New(registry.Options{}), 1}
	if layer0, err = imagefs.Read(t.Context(), lr, ref, imagefs.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a", "/a/b", "/a/b/c"} {
		if d, ok := layer0.Stat(p); !ok || d.Mode.String() != "drwxr-xr-x" || d.UID != 0 {
			t.Errorf("implied folder %s: %+v %v", p, d, ok)
		}
	}
	if d, _ := layer0.Stat("/d"); d.Mode.String() != "drwx------" {
		t.Errorf("/d: %s, want the tar's mode", d.Mode)
	}

	f, err := imagefs.Read(t.Context(), registry.New(registry.Options{}), ref, imagefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var walked []string
	f.Walk(func(file imagefs.File) error { walked = append(walked, file.Path); return nil })
	if want := []string{"/", "/a", "/d", "/k", "/k/new", "/o", "/o/new", "/x", "/x/hard", "/x/y"}; !slices.Equal(walked, want) {
		t.Errorf("merged view %v, want %v", walked, want)
	}
	if b, err := f.ReadFile("/x/hard"); err != nil || string(b) != "y" {
		t.Errorf("hard link into a lower layer: %q, %v", b, err)
	}
	if k, _ := f.Lstat("/k"); k.Layer != 1 || !k.Mode.IsDir() {
		t.Errorf("/k, whited out after a new file in it: %+v, want the folder of layer 1", k)
	}
	if b, err := f.ReadFile("/d"); err != nil || string(b) != "now a file" {
		t.Errorf("/d: %q, %v", b, err)
	}
}

// firstLayers reads only the first n layers of an image.
type firstLayers struct {
	pipeline.LayerReader
	n int
}

func (l firstLayers) ReadLayers(ctx context.Context, ref string, fn func(int, string, io.Reader) error) error {
	return l.LayerReader.ReadLayers(ctx, ref, func(i int, d string, r io.Reader) error {
		if i >= l.n {
			return nil
		}
		return fn(i, d, r)
	})
}
