package main

import (
	"io"
	"os"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestDeployCompose: deploy/compose.yaml loads as a Compose file (with
// compose-go, as docker compose reads it), holds PostgreSQL, a registry,
// two servers that build nothing and a worker with the engine's socket,
// and every Hoist service's command parses with Hoist's own flags, so the
// file cannot drift from them. (No image can be pulled here: it is not
// brought up.)
func TestDeployCompose(t *testing.T) {
	content, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	project, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  "../../deploy",
		ConfigFiles: []types.ConfigFile{{Filename: "compose.yaml", Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SkipResolveEnvironment = true })
	if err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	for _, name := range []string{"postgres", "registry", "server-a", "server-b", "worker"} {
		if _, ok := project.Services[name]; !ok {
			t.Errorf("deploy/compose.yaml has no service %s", name)
		}
	}
	servers := 0
	for name, svc := range project.Services {
		if svc.Image != "hoist:local" {
			continue
		}
		cmd := []string(svc.Command)
		if len(cmd) == 0 {
			t.Errorf("%s: no command", name)
			continue
		}
		switch cmd[0] {
		case "serve":
			f, err := parseServeFlags(cmd[1:], io.Discard)
			if err != nil {
				t.Errorf("%s: hoist %v: %v", name, cmd, err)
				continue
			}
			if f.workers != 0 || f.db == "" || f.reg.external == "" {
				t.Errorf("%s: want --workers 0, a --db and a --registry: %v", name, cmd)
			}
			servers++
		case "worker":
			if _, err := parseWorkerFlags(cmd[1:], io.Discard); err != nil {
				t.Errorf("%s: hoist %v: %v", name, cmd, err)
			}
			if !slices.ContainsFunc(svc.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == "/var/run/docker.sock" }) {
				t.Errorf("%s: the worker has no engine socket", name)
			}
		default:
			t.Errorf("%s: hoist %s is neither serve nor worker", name, cmd[0])
		}
	}
	if servers != 2 {
		t.Errorf("%d servers, want 2", servers)
	}
}
