package script_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
)

// A script that is a FIFO or a device is refused, not opened and waited on.
func TestRunScriptNotRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "fifo.sh"), "fifo.sh: is a FIFO, not a script"},
		{"/dev/zero", "/dev/zero: is a device, not a script"},
	} {
		spec := pipeline.ScriptSpec{Script: c.path, Dir: dir}
		err := (&script.Runner{}).RunScript(t.Context(), spec, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want %q", c.path, err, c.want)
		}
	}
}
