package checks_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/checks"
	"github.com/hoistci/hoist/internal/checks/checktest"
	"github.com/hoistci/hoist/internal/checks/scan"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestChecksAndScanReadTheLayersOnce: the test stage's checks and the
// scanners, run at the same time on one image with one build's LayerShare
// (as the runner runs them), get every layer blob from the registry once,
// and still find what is in the files.
func TestChecksAndScanReadTheLayersOnce(t *testing.T) {
	v := checktest.New(t)
	ref, digest := v.Push(t, checktest.Image{
		Dockerfile: "FROM scratch\nCOPY rootfs/ /\nCOPY etc/ /etc/\nCOPY app/ /app/\nCOPY var/ /var/\nCMD [\"sleep\", \"600\"]\n",
		Busybox:    true,
		Files: map[string]string{
			"etc/os-release":      "ID=hoist\nVERSION_ID=1\n",
			"etc/passwd":          "root:x:0:0:root:/root:/bin/sh\n",
			"app/.env":            "API_KEY=not-a-secret\n",
			"var/lib/dpkg/status": "Package: hoist-demo\nStatus: install ok installed\nVersion: 1.2.3\nArchitecture: amd64\n\n",
		},
		Repo: "shared", Tag: "test",
	})
	var layers []string
	err := v.Registry.ReadLayers(t.Context(), ref, func(_ int, d string, _ io.Reader) error {
		layers = append(layers, d)
		return nil
	})
	if err != nil || len(layers) != 4 {
		t.Fatalf("the fixture's layers: %v %v, want 4", layers, err)
	}

	gets := &testenv.BlobGets{}
	lr := pipeline.SharedLayers(registry.New(registry.Options{Transport: gets}))
	suite := checks.New(checks.Deps{Engine: v.Engine, Containers: v.Engine, Layers: lr, Scripts: &script.Runner{}},
		checks.Options{StayUp: 3 * time.Second, PortTimeout: 3 * time.Second})
	scanner := scan.New(lr, v.Engine, scan.Options{})

	dir := t.TempDir()
	share := pipeline.NewLayerShare(dir)
	ctx := pipeline.WithLayerShare(t.Context(), share)
	var wg sync.WaitGroup
	var results []pipeline.CheckResult
	var report pipeline.ScanReport
	var testErr, scanErr error
	var testLog, scanLog bytes.Buffer
	wg.Add(2)
	go func() {
		defer wg.Done()
		results, testErr = suite.Test(ctx, pipeline.TestSpec{Image: ref, Digest: digest, Dir: t.TempDir()}, &testLog)
	}()
	go func() {
		defer wg.Done()
		report, scanErr = scanner.Scan(ctx, pipeline.ScanSpec{Image: ref, Digest: digest}, &scanLog)
	}()
	wg.Wait()
	if testErr != nil || scanErr != nil {
		t.Fatalf("test: %v\n%s\nscan: %v\n%s", testErr, testLog.String(), scanErr, scanLog.String())
	}
	if r := byID(results)["secrets"]; r.Status != pipeline.CheckFail || !strings.Contains(r.Detail, "/app/.env") {
		t.Errorf("secrets: %s %q, want the .env file found\n%s", r.Status, r.Detail, testLog.String())
	}
	if r, ok := report.Result(scan.ScannerOSPackages); !ok || len(r.Packages) != 1 {
		t.Errorf("OS packages: %+v, want hoist-demo found\n%s", r, scanLog.String())
	}

	for i, d := range layers {
		if n := gets.Count(d); n != 1 {
			t.Errorf("layer %d (%s): %d GET(s) from the registry for the checks and the scan, want 1", i, d, n)
		}
	}
	if err := share.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d file(s) left after the share closed", len(left))
	}
}
