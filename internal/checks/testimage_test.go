package checks_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/checks"
	"github.com/hoistci/hoist/internal/checks/checktest"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
)

// TestTestImage runs test-scripts in the project's test-image, beside the
// image under test, with the real engine: an untrusted project's sandboxed
// (the test-image's files, no engine) and a trusted project's with the
// engine, both reaching the image under test on $TARGET_HOST; a test-image
// the engine cannot get fails the test-script at the key's line.
func TestTestImage(t *testing.T) {
	v := checktest.New(t)
	s := checks.New(checks.Deps{Engine: v.Engine, Containers: v.Engine, Layers: v.Registry,
		Scripts: &script.Runner{}, Sandbox: &engine.Sandbox{Engine: v.Engine}}, checks.Options{})
	ref, _ := v.Push(t, checktest.Image{Busybox: true, Repo: "checks", Tag: "test",
		Files:      map[string]string{"www/index.html": "hello from the image under test\n"},
		Dockerfile: "FROM scratch\nCOPY rootfs/ /\nCOPY www /www\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"})
	testImage, _ := v.Push(t, checktest.Image{Busybox: true, Repo: "tester", Tag: "1",
		Files:      map[string]string{"only-here": "a file only the test-image has\n"},
		Dockerfile: "FROM scratch\nCOPY rootfs/ /\nCOPY only-here /opt/\n"})
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
cat /opt/only-here
echo "DOCKER_HOST=$DOCKER_HOST"
for i in 1 2 3 4 5 6 7 8 9 10; do
  if page=$(wget -qO- "http://$TARGET_HOST:8080/"); then echo "got: $page"; exit 0; fi
  sleep 1
done
exit 1
`
	if err := os.WriteFile(filepath.Join(dir, "test.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		sandboxed bool
		image     string
		status    pipeline.CheckStatus
		want      []string
	}{
		{"untrusted", true, testImage, pipeline.CheckPass, []string{"in " + testImage + ", sandboxed: the project is not trusted",
			"a file only the test-image has", "DOCKER_HOST=\n", "got: hello from the image under test"}},
		{"trusted", false, testImage, pipeline.CheckPass, []string{"in " + testImage + " with the engine: the project is trusted",
			"a file only the test-image has", "DOCKER_HOST=unix:///var/run/docker.sock", "got: hello from the image under test"}},
		{"missing", true, "127.0.0.1:1/hoist/missing:1", pipeline.CheckFail, []string{
			"app/cccp.yml:3:13: test-image 127.0.0.1:1/hoist/missing:1 is not in the engine and pulling it failed ("}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pipeline.RepoConfig{File: "cccp.yml", TestScript: "test.sh", TestImage: pipeline.ScriptImage{Ref: tt.image, Line: 3, Column: 13}}
			var log bytes.Buffer
			res, err := s.Test(t.Context(), pipeline.TestSpec{Image: ref, Dir: dir, RepoRoot: root, Config: cfg, HasRepo: true,
				Project: pipeline.Project{AppID: "demo", JobID: "app", Tag: "latest"}, Sandboxed: tt.sandboxed}, &log)
			if err != nil {
				t.Fatalf("Test: %v\n%s", err, log.String())
			}
			var r pipeline.CheckResult
			for _, x := range res {
				if x.ID == checks.UserScriptID {
					r = x
				}
			}
			if r.Status != tt.status {
				t.Errorf("test-script %s %q, want %s\n%s", r.Status, r.Detail, tt.status, log.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, log.String())
				}
			}
		})
	}
}
