package pipeline_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestCheckYAMLLimitsRefuses(t *testing.T) {
	lim := pipeline.DefaultLimits()
	billion := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i := range 1100 {
		billion += "k" + strings.Repeat("x", i%7) + ": *a\n"
	}
	cases := []struct {
		name, data string
		limit      string
		line, col  int
	}{
		{"flow brackets", "checks: " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000), "depth", 1, 9 + 63},
		{"flow braces", "a:\n  b: " + strings.Repeat("{a: ", 100), "depth", 2, 6 + 4*62},
		{"block dashes", "Projects:\n  " + strings.Repeat("- ", 20000) + "x\n", "depth", 2, 4 + 2*62},
		{"block indentation", deepBlock(70), "depth", 65, 65},
		{"size", "a: " + strings.Repeat("b", 1<<20), "size", 0, 0},
		{"nodes", "a:\n" + strings.Repeat("- x\n", 30000), "nodes", 25001, 1},
		{"flow nodes", "a: [" + strings.Repeat("1,", 60000) + "]", "nodes", 1, 4 + 2*49998},
		{"aliases", billion, "aliases", 1002, 10},
		{"number", "size-budget: " + strings.Repeat("9", 5000), "number", 1, 14},
		{"negative number", "a: [-" + strings.Repeat("1", 101) + "]", "number", 1, 5},
		{"number after CRLF", "a: 1\r\nb: 2\r\nc: ." + strings.Repeat("5", 200), "number", 3, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := pipeline.CheckYAMLLimits("f.yml", []byte(c.data), lim)
			var le *pipeline.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a LimitError", err)
			}
			if le.Limit != c.limit || le.Line != c.line || le.Col != c.col || le.File != "f.yml" {
				t.Errorf("got %s at %d:%d (%v), want %s at %d:%d", le.Limit, le.Line, le.Col, err, c.limit, c.line, c.col)
			}
			if !strings.Contains(err.Error(), "limit") || !strings.HasPrefix(err.Error(), "f.yml:") {
				t.Errorf("message %q does not name the file and the limit", err)
			}
		})
	}
}

// deepBlock is a block mapping nested n deep, one more space a level.
func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

func TestCheckYAMLLimitsAccepts(t *testing.T) {
	cases := map[string]string{
		"block scalar with brackets": "a:\n  run: |\n    " + strings.Repeat("[", 200) + "\n    - - - - \n  b: 1\n",
		"quoted brackets":            "a: '" + strings.Repeat("[", 200) + "'\nb: \"" + strings.Repeat("{", 200) + "\\\"\"\n",
		"comment":                    "a: 1 # " + strings.Repeat("[", 200) + "\n",
		"plain with brackets":        "a: x" + strings.Repeat("[", 200) + "\n",
		"long quoted number":         "a: \"" + strings.Repeat("9", 500) + "\"\n",
		"long text":                  "a: v" + strings.Repeat("9", 500) + "\n",
		"64 deep":                    "a: " + strings.Repeat("[", 63) + strings.Repeat("]", 63),
	}
	for name, data := range cases {
		if err := pipeline.CheckYAMLLimits("f.yml", []byte(data), pipeline.Limits{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The YAML files of the repository and the real index are all far within
// the limits.
func TestCheckYAMLLimitsRealFiles(t *testing.T) {
	n := 0
	for _, root := range []string{"../..", "../../../shared/fixtures"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".yml") && !strings.HasSuffix(p, ".yaml")) ||
				strings.Contains(p, "malformed") || strings.Contains(p, "testdata/fuzz") {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			n++
			lim := pipeline.Limits{MaxDepth: 12, MaxNodes: 10_000, MaxAliases: 20, MaxNumber: 60}
			if err := pipeline.CheckYAMLLimits(p, data, lim); err != nil {
				t.Errorf("%v", err)
			}
			return nil
		})
	}
	if n < 20 {
		t.Errorf("only %d YAML files found", n)
	}
}
