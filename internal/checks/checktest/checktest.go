// Package checktest is for tests only: it gives the checks adapter's tests
// a real Docker engine and an embedded registry, and builds and pushes
// small fixture images (optionally on a busybox rootfs) to it. No image is
// pulled from anywhere. internal/arch/arch_test.go lets only tests import it.
package checktest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/testenv"
)

// Env is a real engine, an embedded registry on loopback and a client
// reading from it.
type Env struct {
	Engine   *engine.Engine
	Host     string // the registry's host:port, the prefix of every reference
	Registry *registry.Client
}

// New starts an Env for t on testenv.DockerHost (skipping or failing t as
// testenv decides when there is none); it stops when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	host := testenv.DockerHost(t)
	e, stop, err := Start(context.Background(), host, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return e
}

// Start connects to the engine at dockerHost and serves a registry kept in
// root, for tests that share an Env beyond one test (built once in a
// sync.Once, stopped from TestMain). stop closes both.
func Start(ctx context.Context, dockerHost, root string) (env *Env, stop func(), err error) {
	e, err := engine.New(ctx, engine.Options{Host: dockerHost})
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	srv, err := registry.Serve(rctx, registry.ServerConfig{Addr: "127.0.0.1:0", RootDir: root})
	if err != nil {
		cancel()
		e.Close()
		return nil, nil, err
	}
	stop = func() { cancel(); srv.Close(); e.Close() }
	return &Env{Engine: e, Host: srv.Addr(), Registry: registry.New(registry.Options{})}, stop, nil
}

// Image is a fixture image: a Dockerfile and the files of its context.
type Image struct {
	Dockerfile string
	Busybox    bool              // a static busybox and its applet links in rootfs/ (for "COPY rootfs/ /")
	Files      map[string]string // context path → content; a "+x" suffix on the path makes the file executable (the suffix is dropped)
	Dirs       map[string]string // context path → host folder, copied recursively (files 0644)
	Copies     map[string]string // context path → host file, copied as an executable (0755)
	Repo       string            // repository under Env.Host, "checktest" if empty; a random suffix keeps it unique
	Tag        string            // "1" if empty
}

// WriteContext writes img's Dockerfile and files into dir (created if
// missing); t fails at the first error.
func WriteContext(t testing.TB, dir string, img Image) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if img.Busybox {
		testenv.BusyboxRootfs(t, dir)
	}
	for name, src := range img.Dirs {
		if err := copyTree(src, filepath.Join(dir, name)); err != nil {
			t.Fatalf("copying %s into the context: %v", src, err)
		}
	}
	write := func(name string, data []byte, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range img.Files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "+x"); ok {
			name, mode = n, 0o755
		}
		write(name, []byte(content), mode)
	}
	for name, src := range img.Copies {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(name, data, 0o755)
	}
	write("Dockerfile", []byte(img.Dockerfile), 0o644)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
}

// BuildPush builds the context in dir (its Dockerfile) as
// Host/<img.Repo>/t<random>:<img.Tag> and pushes it to the registry; it
// returns the reference and the pushed digest. Only img.Repo and img.Tag
// are used: write the context with WriteContext first. The caller removes
// the local image (Remove) once done; on error nothing is left.
func (e *Env) BuildPush(ctx context.Context, dir string, img Image) (ref, digest string, err error) {
	repo, tag := img.Repo, img.Tag
	if repo == "" {
		repo = "checktest"
	}
	if tag == "" {
		tag = "1"
	}
	ref = fmt.Sprintf("%s/%s/t%x:%s", e.Host, repo, rand.Uint64(), tag)
	var log bytes.Buffer
	if _, err := e.Engine.Build(ctx, pipeline.BuildSpec{ContextDir: dir, Dockerfile: "Dockerfile", Tags: []string{ref}}, &log); err != nil {
		e.Remove(ref)
		return "", "", fmt.Errorf("building: %v\n%s", err, log.String())
	}
	digest, err = e.Engine.Push(ctx, ref, &log)
	if err != nil {
		e.Remove(ref)
		return "", "", fmt.Errorf("pushing: %v\n%s", err, log.String())
	}
	return ref, digest, nil
}

// Remove removes the local image ref (forced; a missing one is fine).
func (e *Env) Remove(ref string) {
	e.Engine.RemoveImage(context.Background(), ref)
}

// Push writes img's context in a folder of t's, builds it, pushes it to the
// registry and returns its reference and digest; the local image is
// removed when t ends.
func (e *Env) Push(t testing.TB, img Image) (ref, digest string) {
	t.Helper()
	dir := t.TempDir()
	WriteContext(t, dir, img)
	ref, digest, err := e.BuildPush(t.Context(), dir, img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Remove(ref) })
	return ref, digest
}
