package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestServeProjectTrustAndLimits builds two index projects in hoist serve
// (without --trust-index) with small default limits and a small maximum.
// First both prebuild scripts run sandboxed, within the defaults, as
// their cgroups show. Then, with serve still running, an admin marks
// trust/app trusted (hoist project trust) and raises trust/boxed's limits
// (hoist project limits), its memory above the server's maximum: in the
// next builds trust/app's prebuild runs on the host (it sees a file only
// the host has), and trust/boxed's runs sandboxed within its own limits,
// its memory lowered to the maximum, as its checkout log and the server's
// log say.
func TestServeProjectTrustAndLimits(t *testing.T) {
	testenv.DockerHost(t)
	marker := filepath.Join(t.TempDir(), "only-the-host-has-this")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
if [ -e ` + marker + ` ]; then echo "prebuild sees the host"; else echo "prebuild is confined"; fi
echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max 2>/dev/null)"
echo "pids limit: $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max 2>/dev/null)"
`
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY prebuild.sh /\n", "prebuild.sh": script})
	extra := "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"
	idx := writeIndex(t, "trust", entry(1, "trust", "app", repo, extra), entry(2, "trust", "boxed", repo, extra))
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startServe(t, "serve", "--index", idx, "--addr", addr, "--data", data, "--registry-addr", freeAddr(t), "--workers", "2",
		"--limit-memory", "512MiB", "--limit-pids", "200", "--max-memory", "1GiB", "--max-pids", "300")
	defer srv.stop(t)
	st := openStore(t, data)
	ended := func(n int) func() bool {
		return func() bool {
			for _, p := range []string{"trust/app:latest", "trust/boxed:latest"} {
				if b, _ := lastBuild(t, st, p); b.Number < n || !b.Status.Done() {
					return false
				}
			}
			return true
		}
	}
	logs := func(project string) (checkout, prebuild string) {
		b, _ := lastBuild(t, st, project)
		return stageLog(t, st, b.ID, pipeline.StageCheckout), stageLog(t, st, b.ID, pipeline.StagePrebuild)
	}

	waitFor(t, "the first builds", ended(1))
	for _, p := range []string{"trust/app:latest", "trust/boxed:latest"} {
		checkout, prebuild := logs(p)
		mustContain(t, p+" #1 checkout log", checkout, "every container of this build is limited to 512 MiB of memory, 1 CPU, 200 processes")
		mustContain(t, p+" #1 prebuild log", prebuild, "sandboxed: the project is not trusted", "prebuild is confined",
			"memory limit: 536870912", "pids limit: 200")
	}

	if r := hoist(t, nil, "project", "trust", "trust/app", "--data", data); r.code != 0 || !strings.Contains(r.stdout, "trust/app:latest is now trusted") {
		t.Fatalf("project trust:\n%s", r)
	}
	if r := hoist(t, nil, "project", "limits", "trust/boxed", "--data", data, "--memory", "2GiB", "--pids", "250"); r.code != 0 {
		t.Fatalf("project limits:\n%s", r)
	}
	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--admin", "--data", data, "root"); r.code != 0 {
		t.Fatalf("user add:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--data", data, "root")
	if r.code != 0 {
		t.Fatalf("token create:\n%s", r)
	}
	env := []string{"HOIST_TOKEN=" + strings.TrimSpace(r.stdout), "HOIST_SERVER=" + base}
	for _, p := range []string{"trust/app", "trust/boxed"} {
		if r := hoist(t, env, "build", p, "--force"); r.code != 0 {
			t.Fatalf("build %s:\n%s", p, r)
		}
	}
	waitFor(t, "the second builds", ended(2))

	_, prebuild := logs("trust/app:latest")
	mustContain(t, "trust/app #2 prebuild log", prebuild, "prebuild sees the host")
	if strings.Contains(prebuild, "sandboxed") || strings.Contains(prebuild, "confined") {
		t.Errorf("trust/app #2 ran sandboxed:\n%s", prebuild)
	}
	checkout, prebuild := logs("trust/boxed:latest")
	mustContain(t, "trust/boxed #2 checkout log", checkout, "every container of this build is limited to 1 GiB of memory, 1 CPU, 250 processes",
		"the project's memory 2 GiB lowered to the server's maximum of 1 GiB")
	mustContain(t, "trust/boxed #2 prebuild log", prebuild, "sandboxed: the project is not trusted", "prebuild is confined",
		"memory limit: 1073741824", "pids limit: 250")
	mustContain(t, "the server's log", srv.output(), "a project's limit is above the server's maximum", "project=trust/boxed:latest")
	mustContain(t, "trust/app's API", get(t, base+"/api/v1/projects/trust/app"), `"trusted": true`)
	mustContain(t, "trust/boxed's API", get(t, base+"/api/v1/projects/trust/boxed"), `"trusted": false`)
	mustContain(t, "trust/app's page", get(t, base+"/p/trust/app"), "Scripts run <strong>trusted</strong>")
	active, err := st.Active(context.Background())
	if err != nil || len(active) != 0 {
		t.Errorf("builds still active: %+v %v", active, err)
	}
}
