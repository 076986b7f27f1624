package cst

import (
	"runtime"
	"strings"
	"testing"
)

// A hostile test file is refused with its place and the limit before
// goccy parses it, and little is allocated on the way.
func TestParseHostile(t *testing.T) {
	head := "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n    command: "
	for name, c := range map[string]struct{ yaml, want, loc string }{
		"brackets": {head + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "\n",
			"a.cst.yaml:4:75: lists and mappings nest more than 64 levels deep here, over the limit of 64", "a.cst.yaml:4:75"},
		"dashes": {head + "x\n    args:\n      " + strings.Repeat("- ", 30000) + "x\n",
			"lists and mappings nest more than 64 levels deep", "a.cst.yaml:6:"},
		"values": {head + "x\n    args:\n" + strings.Repeat("      - x\n", 40000),
			"over the limit of 20000", "a.cst.yaml:9999:7"},
		"exit code": {head + "x\n    exitCode: " + strings.Repeat("7", 5000) + "\n",
			"a.cst.yaml:5:15: a number of 5000 characters, over the limit of 100", "a.cst.yaml:5:15"},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Parse("a.cst.yaml", []byte(c.yaml))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %.300v, want %q", err, c.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 40<<20 {
				t.Errorf("parsing allocated %d MB", n>>20)
			}
			if r := ParseError("a.cst.yaml", err); !strings.HasPrefix(r.Location, c.loc) {
				t.Errorf("location %q, want %q", r.Location, c.loc)
			}
		})
	}
}
