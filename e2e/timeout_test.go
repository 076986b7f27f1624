package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestCheckoutTimeout runs `hoist run --checkout-timeout 3s` on a project
// whose git server accepts the connection and never answers: the build
// fails at checkout, saying so, instead of hanging.
func TestCheckoutTimeout(t *testing.T) {
	testenv.DockerHost(t)
	silent := testenv.SilentServer(t)
	data := t.TempDir()
	idx := writeIndex(t, "demo", entry(1, "demo", "silent", "http://"+silent+"/silent.git", ""))
	r := hoist(t, nil, append([]string{"run", "--index", idx, "--data", data, "--registry-addr", freeAddr(t), "--checkout-timeout", "3s"}, executorArgs(t)...)...)
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	mustContain(t, "output", r.stdout+r.stderr, "checkout timed out after 3s")
	b, _ := lastBuild(t, openStore(t, data), "demo/silent:latest")
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageCheckout {
		t.Errorf("build %+v, want failed at checkout", b)
	}
	mustContain(t, "reason", b.Reason, "checkout timed out after 3s")
}

// TestScriptTimeouts runs `hoist run --sandbox --prebuild-timeout 10s
// --test-timeout 10s` on a project whose prebuild-script hangs and one
// whose test-script hangs: both run on the executor (in containers, or in
// pods on Kubernetes), not on the host. Each build fails in that stage,
// saying that the script timed out, and leaves nothing running.
func TestScriptTimeouts(t *testing.T) {
	host := testenv.DockerHost(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	xargs := executorArgs(t)
	run := func(args ...string) result {
		return hoist(t, nil, append(append([]string{"run"}, args...), xargs...)...)
	}

	// The base image the test-script's project builds on.
	if r := run("--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/busybox", "--data", data, "--registry-addr", addr); r.code != 0 {
		t.Fatalf("delivering busybox:\n%s", r)
	}
	hang := "#!/bin/sh\necho %s\nexec sleep 1000\n"
	prebuild := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n", "prebuild.sh": strings.ReplaceAll(hang, "%s", "prebuild-started")})
	script := testenv.GitRepo(t, map[string]string{
		"Dockerfile": busyboxFrom + "CMD [\"sleep\", \"1000\"]\n",
		"cccp.yml":   "job-id: script\ntest-script: test.sh\n",
		"test.sh":    strings.ReplaceAll(hang, "%s", "test-script-started"),
	})
	idx := writeIndex(t, "slow",
		entry(1, "slow", "prebuild", prebuild, "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"),
		entry(2, "slow", "script", script, ""))
	r := run("--sandbox", "--index", idx, "--data", data, "--registry-addr", addr, "--prebuild-timeout", "10s", "--test-timeout", "10s")
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	st := openStore(t, data)
	for _, c := range []struct {
		project, ready string
		stage          pipeline.StageName
	}{
		{"slow/prebuild:latest", "prebuild-started", pipeline.StagePrebuild},
		{"slow/script:latest", "test-script-started", pipeline.StageTest},
	} {
		b, stages := lastBuild(t, st, c.project)
		if b.Status != pipeline.StatusFailed || b.FailedStage != c.stage || stages[c.stage].Status != pipeline.StatusFailed {
			t.Errorf("%s: build %s at %s (%s); want failed at %s", c.project, b.Status, b.FailedStage, b.Reason, c.stage)
		}
		mustContain(t, c.project+" reason", b.Reason, "timed out after 10s")
		mustContain(t, c.project+" log", stageLog(t, st, b.ID, c.stage), c.ready, "timed out after 10s")
	}
	if onKube() {
		return // executorArgs checks that no pod is left
	}
	cli, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	instance, err := os.ReadFile(filepath.Join(data, "instance"))
	if err != nil {
		t.Fatal(err)
	}
	f := make(client.Filters).Add("label", pipeline.LabelInstance+"="+strings.TrimSpace(string(instance))).
		Add("label", pipeline.LabelBuild+"="+strconv.FormatInt(mustBuild(t, st, "slow/script:latest"), 10))
	if cs, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f}); err != nil || len(cs.Items) > 0 {
		t.Errorf("the timed-out test-script left %d containers (%v)", len(cs.Items), err)
	}
}
