package runner_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// prebuildProject is a project whose prebuild script is pre.sh (script)
// beside cccp.yml (cccp, after a line that makes lint blocking) and a
// Dockerfile that lint stops: a build that gets past the prebuild fails at
// lint, before any engine work.
func prebuildProject(t *testing.T, tag, script, cccp string) pipeline.Project {
	repo := testenv.GitRepo(t, map[string]string{
		"Dockerfile": "FROM scratch\nMAINTAINER someone\n",
		"pre.sh":     script,
		"cccp.yml":   "checks: {lint: blocking}\n" + cccp,
	})
	return pipeline.Project{AppID: "demo", JobID: "pre", Tag: tag, GitURL: repo, GitBranch: "main",
		TargetFile: "Dockerfile", BuildContext: "./", PrebuildScript: "pre.sh", PrebuildContext: "./"}
}

// TestUntrustedPrebuildNeverRunsOnTheHost: with no sandbox wired, an
// untrusted project's prebuild fails saying why, and its script does not
// run on the host instead; nor does a trusted project's that names an
// image.
func TestUntrustedPrebuildNeverRunsOnTheHost(t *testing.T) {
	testenv.Git(t, "", "version") // skips without git
	st := openStore(t)
	marker := filepath.Join(t.TempDir(), "ran-on-the-host")
	p := prebuildProject(t, "latest", "#!/bin/sh\ntouch "+marker+"\nexit 1\n", "")
	r := runner.New(runner.Deps{Source: source.New(), RepoConfigs: index.RepoConfigs{}, Scripts: &script.Runner{}, Store: st},
		runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir()})
	b, err := r.Run(t.Context(), p, "test", inputs(t, st, p, 0, nil, false))
	must(t, err)
	want := "demo/pre:latest is not trusted and this Hoist has no sandbox (container engine) to run its prebuild script in, and it never runs on the host instead; a Hoist admin may trust it: hoist project trust demo/pre"
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StagePrebuild || b.Reason != want {
		t.Errorf("build %+v\nwant failed at prebuild with %q", b, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the untrusted prebuild script ran on the host")
	}

	// A trusted project that names its image does not run on the host
	// either when there is no engine to run that image.
	p = prebuildProject(t, "latest", "#!/bin/sh\ntouch "+marker+"\nexit 1\n", "prebuild-image: tools/go:1\n")
	r = runner.New(runner.Deps{Source: source.New(), RepoConfigs: index.RepoConfigs{}, Scripts: &script.Runner{}, Store: st},
		runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir(), Trusted: func(pipeline.Project) bool { return true }})
	b, err = r.Run(t.Context(), p, "test", inputs(t, st, p, 0, nil, false))
	must(t, err)
	want = "cccp.yml:2:17: prebuild-image: this Hoist has no container engine to run the prebuild script in tools/go:1"
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StagePrebuild || b.Reason != want {
		t.Errorf("build %+v\nwant failed at prebuild with %q", b, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the trusted prebuild script named to run in an image ran on the host")
	}
}

// TestPrebuildImage runs prebuild scripts of projects that name their own
// image in cccp.yml, with the real engine: an untrusted project's runs
// there, sandboxed (the image's files, a non-root user, no engine); a
// trusted project's runs there with the engine; an image the engine
// cannot get fails the stage at the key's line; a trusted project with no
// image keeps running on the host.
func TestPrebuildImage(t *testing.T) {
	host := testenv.DockerHost(t)
	e, err := engine.New(t.Context(), engine.Options{Host: host})
	must(t, err)
	defer e.Close()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	img := "hoist-runner-prebuild-image:" + hex.EncodeToString(suffix)
	dir := t.TempDir()
	testenv.BusyboxRootfs(t, dir)
	must(t, os.WriteFile(filepath.Join(dir, "only-here"), []byte("a file only the image has\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY rootfs/ /\nCOPY only-here /opt/\n"), 0o644))
	var blog bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Dockerfile: "Dockerfile", Tags: []string{img}}, &blog); err != nil {
		t.Fatalf("%v\n%s", err, blog.String())
	}
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), img) })

	st := openStore(t)
	r := runner.New(runner.Deps{Source: source.New(), RepoConfigs: index.RepoConfigs{}, Linter: dockerfile.Linter{},
		Scripts: &script.Runner{}, Sandbox: &engine.Sandbox{Engine: e}, Store: st},
		runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir(),
			Trusted: func(p pipeline.Project) bool { return strings.HasPrefix(p.Tag, "trusted") }})
	onHost := filepath.Join(t.TempDir(), "ran-on-the-host")
	probe := `#!/bin/sh
cat /opt/only-here || echo "no image file"
echo "uid=$(id -u)"
if [ -S /var/run/docker.sock ]; then echo "socket: mounted"; else echo "socket: none"; fi
echo "DOCKER_HOST=$DOCKER_HOST"
echo made > made.txt
`
	uid := "uid=10001"
	if os.Getuid() != 0 {
		uid = "uid="
	}
	tests := []struct {
		name, tag, script, cccp string
		failed                  pipeline.StageName
		reason                  string
		log                     []string
	}{
		{name: "untrusted in its image", tag: "untrusted", script: probe, cccp: "prebuild-image: " + img + "\n",
			failed: pipeline.StageLint, reason: "lint/MaintainerDeprecated",
			log: []string{"sandboxed in " + img + ": the project is not trusted", "a file only the image has", uid + "\n", "socket: none", "DOCKER_HOST=\n"}},
		{name: "trusted in its image", tag: "trusted-image", script: probe, cccp: "prebuild-image: " + img + "\n",
			failed: pipeline.StageLint, reason: "lint/MaintainerDeprecated",
			log: []string{"in " + img + " with the engine: the project is trusted", "a file only the image has", uid + "\n", "socket: mounted", "DOCKER_HOST=unix:///var/run/docker.sock"}},
		{name: "missing image", tag: "untrusted-missing", script: probe, cccp: "prebuild-image: 127.0.0.1:1/hoist/missing:1\n",
			failed: pipeline.StagePrebuild, reason: "cccp.yml:2:17: prebuild-image 127.0.0.1:1/hoist/missing:1 is not in the engine and pulling it failed ("},
		{name: "trusted on the host", tag: "trusted-host", script: "#!/bin/sh\ntouch " + onHost + "\necho made > made.txt\n",
			failed: pipeline.StageLint, reason: "lint/MaintainerDeprecated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prebuildProject(t, tt.tag, tt.script, tt.cccp)
			b, err := r.Run(t.Context(), p, "test", inputs(t, st, p, 0, nil, false))
			must(t, err)
			log := readLog(t, st, b.ID, pipeline.StagePrebuild)
			if b.FailedStage != tt.failed || !strings.Contains(b.Reason, tt.reason) {
				t.Fatalf("build %s at %s: %q\nwant failed at %s with %q\nprebuild log:\n%s", b.Status, b.FailedStage, b.Reason, tt.failed, tt.reason, log)
			}
			for _, want := range tt.log {
				if !strings.Contains(log, want) {
					t.Errorf("prebuild log lacks %q:\n%s", want, log)
				}
			}
		})
	}
	if _, err := os.Stat(onHost); err != nil {
		t.Errorf("the trusted project's prebuild without an image did not run on the host: %v", err)
	}
}
