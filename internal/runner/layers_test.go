package runner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/testenv"
)

// layerHasher reads every layer of the image under test, as the test
// stage's file checks and the scanners do, and keeps what it read.
type layerHasher struct {
	layers pipeline.LayerReader
	mu     sync.Mutex
	sums   map[string][]string // by reader
}

func (h *layerHasher) read(ctx context.Context, who, ref string) error {
	var sums []string
	err := h.layers.ReadLayers(ctx, ref, func(_ int, _ string, r io.Reader) error {
		s := sha256.New()
		if _, err := io.Copy(s, r); err != nil {
			return err
		}
		sums = append(sums, hex.EncodeToString(s.Sum(nil)))
		return nil
	})
	h.mu.Lock()
	h.sums[who] = sums
	h.mu.Unlock()
	return err
}

func (h *layerHasher) Test(ctx context.Context, spec pipeline.TestSpec, _ io.Writer) ([]pipeline.CheckResult, error) {
	return []pipeline.CheckResult{{ID: "files", Group: pipeline.GroupCheck, Status: pipeline.CheckPass}}, h.read(ctx, "test", spec.Image)
}

func (h *layerHasher) Scan(ctx context.Context, spec pipeline.ScanSpec, _ io.Writer) (pipeline.ScanReport, error) {
	return pipeline.ScanReport{Image: spec.Image, Digest: spec.Digest}, h.read(ctx, "scan", spec.Image)
}

// TestOneReadOfTheLayers: the test stage and the scan beside it read the
// image's layers through one build's LayerShare: the registry serves each
// layer blob once, both read the same bytes, and the kept files are gone
// when the build ends.
func TestOneReadOfTheLayers(t *testing.T) {
	srv, err := registry.Serve(context.Background(), registry.ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir()})
	must(t, err)
	t.Cleanup(func() { srv.Close() })
	img, err := random.Image(256<<10, 3)
	must(t, err)
	ref, err := name.ParseReference(srv.Addr()+"/"+demo.Image().Repository()+":test", name.Insecure)
	must(t, err)
	must(t, remote.Write(ref, img))
	layers, err := img.Layers()
	must(t, err)

	gets := &testenv.BlobGets{}
	lr := pipeline.SharedLayers(registry.New(registry.Options{Transport: gets}))
	h := &layerHasher{layers: lr, sums: map[string][]string{}}
	st := openStore(t)
	work := t.TempDir()
	r := runner.New(runner.Deps{Source: &gitless{commit: "c1", dockerfile: "FROM scratch\n"}, Engine: &countingEngine{},
		Registry: &mapRegistry{tags: map[string]string{}}, Tester: h, Scanner: h, RepoConfigs: index.RepoConfigs{}, Store: st},
		runner.Options{RegistryHost: srv.Addr(), WorkDir: work})
	b, err := r.Run(context.Background(), demo, "test", inputs(t, st, demo, 0, nil, false))
	must(t, err)
	if b.Status != pipeline.StatusSucceeded {
		t.Fatalf("build %s %q, want succeeded", b.Status, b.Reason)
	}

	if len(h.sums["test"]) != 3 || fmt.Sprint(h.sums["test"]) != fmt.Sprint(h.sums["scan"]) {
		t.Errorf("the tests read %v, the scan %v: want the same 3 layers", h.sums["test"], h.sums["scan"])
	}
	for i, l := range layers {
		d, _ := l.Digest()
		if n := gets.Count(d.String()); n != 1 {
			t.Errorf("layer %d (%s): %d GET(s) from the registry in one build, want 1", i, d, n)
		}
	}
	left, err := os.ReadDir(work)
	must(t, err)
	for _, e := range left {
		t.Errorf("%s is left in the work folder after the build", e.Name())
	}
}
