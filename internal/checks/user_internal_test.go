package checks

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// hostScripts records a script run on the host; it is the seam where an
// untrusted script must never arrive.
type hostScripts struct{ ran bool }

func (h *hostScripts) RunScript(context.Context, pipeline.ScriptSpec, io.Writer) error {
	h.ran = true
	return nil
}

// An untrusted project's test-script fails when no sandbox is wired; it is
// never run on the host instead.
func TestUntrustedScriptWithoutSandbox(t *testing.T) {
	host := &hostScripts{}
	s := New(Deps{Scripts: host}, Options{})
	dir := t.TempDir()
	spec := pipeline.TestSpec{
		Project: pipeline.Project{AppID: "ns", JobID: "app", Tag: "1"}, Dir: dir, Sandboxed: true, HasRepo: true,
		Config: pipeline.RepoConfig{File: "cccp.yml", TestScript: "test.sh"},
	}
	r := s.userScript(t.Context(), spec, nil, io.Discard)
	if host.ran {
		t.Error("an untrusted test-script ran on the host")
	}
	if r.Status != pipeline.CheckFail || !strings.Contains(r.Detail, "not trusted") || !strings.Contains(r.Detail, "hoist project trust ns/app") {
		t.Errorf("result %s %q, want failed: not trusted, no sandbox", r.Status, r.Detail)
	}
}
