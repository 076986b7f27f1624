package cst

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FuzzParse: whatever the bytes, Parse returns a file or an error that
// starts with the file's name, never panics, and one input never
// allocates more than 100 MB (deep nesting and aliases are refused first).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.cst.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	head := "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n    command: "
	for _, s := range []string{
		head + strings.Repeat("[", 30000) + strings.Repeat("]", 30000),
		head + "x\n    args:\n      " + strings.Repeat("- ", 20000) + "x\n",
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nschemaVersion: 2.0.0\ncommandTests: [{name: x, command: y, args: *d}]\n",
		head + "x\n    exitCode: " + strings.Repeat("7", 5000) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		file, err := Parse("a.cst.yaml", data)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 100<<20 {
			t.Fatalf("one input allocated %d MB", n>>20)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "a.cst.yaml:") || file != nil {
				t.Fatalf("error %q, file %v", err, file)
			}
			return
		}
		if file.SchemaVersion != "2.0.0" {
			t.Fatalf("schemaVersion %q accepted", file.SchemaVersion)
		}
	})
}
