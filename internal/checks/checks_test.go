package checks_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/checks"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/testenv"
)

// image builds a busybox image with the Dockerfile lines after the rootfs.
func image(t *testing.T, e *engine.Engine, lines ...string) string {
	t.Helper()
	dir := t.TempDir()
	testenv.BusyboxRootfs(t, dir)
	df := "FROM scratch\nCOPY rootfs/ /\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("hoist-checks-test-%x:latest", rand.Uint64())
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Dockerfile: "Dockerfile", Tags: []string{ref}}, &log); err != nil {
		t.Fatalf("building: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	return ref
}

func newSuite(t *testing.T) (*checks.Suite, *engine.Engine) {
	t.Helper()
	e, err := engine.New(t.Context(), engine.Options{Host: testenv.DockerHost(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return checks.New(e, &script.Runner{}, checks.Options{StayUp: time.Second}), e
}

func byID(results []pipeline.CheckResult) map[string]pipeline.CheckResult {
	m := map[string]pipeline.CheckResult{}
	for _, r := range results {
		m[r.ID] = r
	}
	return m
}

func TestPredefinedChecks(t *testing.T) {
	s, e := newSuite(t)
	tests := []struct {
		name          string
		lines         []string
		config, start pipeline.CheckStatus
		detail        string
	}{
		{"no command", nil, pipeline.CheckFail, pipeline.CheckNA, "neither CMD nor ENTRYPOINT"},
		{"exits 1", []string{`CMD ["sh", "-c", "echo dying; exit 1"]`}, pipeline.CheckPass, pipeline.CheckFail, "exited with status 1"},
		{"exits 0", []string{`CMD ["true"]`}, pipeline.CheckPass, pipeline.CheckPass, "exited 0"},
		{"stays up", []string{`ENTRYPOINT ["sleep"]`, `CMD ["30"]`}, pipeline.CheckPass, pipeline.CheckPass, "still running after 1s"},
		{"no such binary", []string{`CMD ["/nonexistent"]`}, pipeline.CheckPass, pipeline.CheckFail, "did not start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := image(t, e, tt.lines...)
			var log bytes.Buffer
			res, err := s.Test(t.Context(), pipeline.TestSpec{Image: ref, Dir: t.TempDir()}, &log)
			if err != nil {
				t.Fatal(err)
			}
			got := byID(res)
			if got["config"].Status != tt.config || got["starts"].Status != tt.start {
				t.Errorf("config %s, starts %s; want %s, %s\n%s", got["config"].Status, got["starts"].Status, tt.config, tt.start, log.String())
			}
			if d := got["config"].Detail + " " + got["starts"].Detail; !strings.Contains(d, tt.detail) {
				t.Errorf("details %q lack %q", d, tt.detail)
			}
			if got[checks.UserScriptID].Status != pipeline.CheckNA {
				t.Errorf("test-script: %+v, want n/a without cccp.yml", got[checks.UserScriptID])
			}
			if len(checks.Failed(res)) == 0 != (tt.config != pipeline.CheckFail && tt.start != pipeline.CheckFail) {
				t.Errorf("Failed(%v) disagrees with the statuses", res)
			}
		})
	}
}

func TestUserScript(t *testing.T) {
	s, e := newSuite(t)
	ref := image(t, e, `CMD ["true"]`)
	dir := t.TempDir()
	scripts := map[string]string{
		"pass.sh": "#!/bin/sh\necho \"image=$IMAGE container=$CONTAINER_NAME project=$HOIST_PROJECT commit=$HOIST_COMMIT\"\n",
		"fail.sh": "#!/bin/sh\necho checking; exit 2\n",
		// Leaves a container running: the suite must remove it.
		"leave.sh": "#!/bin/sh\ndocker run -d \"$IMAGE\" sleep 300\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	project := pipeline.Project{AppID: "demo", JobID: "app", Tag: "latest"}
	tests := []struct {
		name   string
		cfg    pipeline.RepoConfig
		status pipeline.CheckStatus
		want   string
	}{
		{"passes", pipeline.RepoConfig{File: "cccp.yml", TestScript: "pass.sh"}, pipeline.CheckPass, "image=" + ref + " container=" + ref + " project=demo/app:latest commit=abc123"},
		{"fails", pipeline.RepoConfig{File: "cccp.yml", TestScript: "fail.sh"}, pipeline.CheckFail, "exited with status 2"},
		{"skipped", pipeline.RepoConfig{File: "cccp.yml", TestScript: "fail.sh", TestSkip: true}, pipeline.CheckNA, "test-skip is true"},
		{"missing", pipeline.RepoConfig{File: "cccp.yml", TestScript: "nope.sh"}, pipeline.CheckFail, "not found"},
		{"escapes", pipeline.RepoConfig{File: "cccp.yml", TestScript: "../../etc/passwd"}, pipeline.CheckFail, "outside"},
		{"leaves a container", pipeline.RepoConfig{File: "cccp.yml", TestScript: "leave.sh"}, pipeline.CheckPass, "removed 1 container(s) left by the tests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			res, err := s.Test(context.Background(), pipeline.TestSpec{Image: ref, Dir: dir, Config: tt.cfg, HasRepo: true, Project: project, Commit: "abc123"}, &log)
			if err != nil {
				t.Fatal(err)
			}
			got := byID(res)[checks.UserScriptID]
			if got.Status != tt.status || !strings.Contains(got.Detail+log.String(), tt.want) {
				t.Errorf("got %s %q, want %s containing %q\n%s", got.Status, got.Detail, tt.status, tt.want, log.String())
			}
			out, _ := exec.Command("docker", "ps", "-aq", "--filter", "ancestor="+ref).Output()
			if len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("containers of %s left: %s", ref, out)
			}
		})
	}
}
