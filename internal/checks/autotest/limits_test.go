package autotest

import (
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// A hostile compose file is refused with its place and the limit before
// compose-go parses it, and little is allocated on the way.
func TestLoadHostile(t *testing.T) {
	for name, c := range map[string]struct{ compose, want string }{
		"brackets": {"services:\n  sut:\n    command: " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "\n",
			"app/docker-compose.test.yml:3:75: lists and mappings nest more than 64 levels deep here, over the limit of 64"},
		"dashes": {"services:\n  sut:\n    command:\n      " + strings.Repeat("- ", 30000) + "x\n",
			"app/docker-compose.test.yml:4:"},
		"number": {"services:\n  sut:\n    image: x\n    cpus: " + strings.Repeat("1", 200) + "\n",
			"app/docker-compose.test.yml:4:11: a number of 200 characters, over the limit of 100"},
		"size": {"services:\n  sut:\n    image: x\n#" + strings.Repeat("x", 1<<20),
			"app/docker-compose.test.yml: the file is 1048607 bytes, over the limit of 1048576 bytes (1 MiB)"},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := loadFile(t, c.compose, nil)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %.300v, want %q", err, c.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 40<<20 {
				t.Errorf("loading allocated %d MB", n>>20)
			}
		})
	}
}

// A compose test file that is a FIFO is refused, not waited on.
func TestLoadFIFO(t *testing.T) {
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{"app/Dockerfile": "FROM scratch\n"})
	spec := loadSpec(repo, "hub.test.yml")
	if err := syscall.Mkfifo(filepath.Join(repo, "app", "hub.test.yml"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := load(t.Context(), spec, hubEnv(spec), "hoist-autotest-unit")
	if err == nil || !strings.Contains(err.Error(), "is not a regular file (a FIFO)") {
		t.Errorf("err = %v", err)
	}
}
