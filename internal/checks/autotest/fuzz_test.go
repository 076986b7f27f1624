package autotest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FuzzLoad: whatever the bytes of docker-compose.test.yml, load returns
// a plan or an error naming the file, never panics, and one input never
// allocates more than 100 MB (deep nesting and aliases are refused first).
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/docker-compose.test.yml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"services:\n  sut:\n    command: " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "\n",
		"services:\n  sut:\n    command:\n      " + strings.Repeat("- ", 20000) + "x\n",
		"x-a: &a [x, x, x, x, x, x, x, x, x]\nx-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nx-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"x-d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nservices:\n  sut:\n    image: x\n    command: *d\n",
		"services:\n  sut:\n    image: x\n    healthcheck:\n      interval: " + strings.Repeat("9", 5000) + "s\n",
	} {
		f.Add([]byte(s))
	}
	repo := f.TempDir()
	writeTree(f, repo, map[string]string{"app/Dockerfile": "FROM scratch\n"})
	spec := loadSpec(repo, "docker-compose.test.yml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(spec.File, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := load(t.Context(), spec, hubEnv(spec), "hoist-autotest-fuzz")
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 100<<20 {
			t.Fatalf("one input allocated %d MB", n>>20)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "docker-compose.test.yml") || p != nil {
				t.Fatalf("error %q does not name the file, or a plan with it", err)
			}
			return
		}
		if len(p.services) == 0 {
			t.Fatalf("a plan without services")
		}
	})
}
