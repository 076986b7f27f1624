package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// The limits a build's context carries (a project's own, pipeline.WithLimits)
// bound the containers the engine starts for it, as docker inspect shows,
// with the engine's (Options.Limits, the server's --limit-*) for the fields
// the context leaves zero.
func TestContextLimitsReachContainers(t *testing.T) {
	t.Parallel()
	e, err := New(t.Context(), Options{Host: testenv.DockerHost(t), Limits: pipeline.Limits{Memory: 768 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	id := uniqueID(t)
	image := buildImage(t, e, id, id+":test", nil)
	for _, tt := range []struct {
		ctx  pipeline.Limits
		want pipeline.Limits
	}{
		{pipeline.Limits{}, pipeline.Limits{Memory: 768 << 20, CPUs: DefaultLimits.CPUs, PIDs: DefaultLimits.PIDs}},
		{pipeline.Limits{CPUs: 1.5, PIDs: 300}, pipeline.Limits{Memory: 768 << 20, CPUs: 1.5, PIDs: 300}},
		{pipeline.Limits{Memory: 2 << 30, CPUs: 2, PIDs: 512}, pipeline.Limits{Memory: 2 << 30, CPUs: 2, PIDs: 512}},
	} {
		ctx := pipeline.WithLimits(t.Context(), tt.ctx)
		cid, err := e.StartContainer(ctx, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "60"}, Labels: map[string]string{testLabel: id}})
		if err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		insp, err := e.cli.ContainerInspect(t.Context(), cid, client.ContainerInspectOptions{})
		_ = e.RemoveContainer(t.Context(), cid)
		if err != nil {
			t.Fatal(err)
		}
		hc := insp.Container.HostConfig
		if hc.Memory != tt.want.Memory || hc.MemorySwap != tt.want.Memory || hc.NanoCPUs != int64(tt.want.CPUs*1e9) ||
			hc.PidsLimit == nil || *hc.PidsLimit != tt.want.PIDs {
			t.Errorf("context limits %+v: container has memory %d (swap %d), NanoCPUs %d, pids %v; want %+v",
				tt.ctx, hc.Memory, hc.MemorySwap, hc.NanoCPUs, hc.PidsLimit, tt.want)
		}
	}
}

// A sandboxed script runs within the limits its context carries, over the
// Sandbox's own: its cgroup says so.
func TestSandboxTakesTheContextLimits(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ws := t.TempDir()
	script := "#!/bin/sh\ncat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null\ncat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null\ntrue\n"
	if err := os.WriteFile(filepath.Join(ws, "s.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := pipeline.WithOwner(t.Context(), pipeline.Owner{Instance: uniqueID(t), Build: 1})
	ctx = pipeline.WithLimits(ctx, pipeline.Limits{Memory: 640 << 20, PIDs: 77})
	var log bytes.Buffer
	err := (&Sandbox{Engine: e, Limits: pipeline.Limits{Memory: 1 << 30, PIDs: 50}}).RunScript(ctx, pipeline.ScriptSpec{
		Script: filepath.Join(ws, "s.sh"), Dir: ws, Workspace: ws, Timeout: time.Minute,
	}, &log)
	if err != nil {
		t.Fatalf("RunScript: %v\n%s", err, log.String())
	}
	if got := strings.Fields(log.String()); len(got) != 2 || got[0] != "671088640" || got[1] != "77" {
		t.Errorf("the sandbox's cgroup limits: %q; want 671088640 bytes and 77 processes", got)
	}
}
