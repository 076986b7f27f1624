package pipeline_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
		{"block dashes", "Projects:\n  " + strings.Repeat("- ", 20000) + "x\n", "depth", 2, 5 + 2*62},
		{"block indentation", deepBlock(70), "depth", 65, 65},
		{"size", "a: " + strings.Repeat("b", 1<<20), "size", 0, 0},
		{"nodes", "a:\n" + strings.Repeat("- x\n", 30000), "nodes", 10001, 1},
		{"flow nodes", "a: [" + strings.Repeat("1,", 60000) + "]", "nodes", 1, 4 + 2*19998},
		{"aliases", billion, "aliases", 1002, 10},
		{"number", "size-budget: " + strings.Repeat("9", 5000), "number", 1, 14},
		{"negative number", "a: [-" + strings.Repeat("1", 101) + "]", "number", 1, 5},
		{"after a block scalar with a tag", "a: !!str |\n  '\nb: " + strings.Repeat("[", 100), "depth", 3, 4 + 63},
		{"after a block scalar with an anchor", "a: &x >-\n  \"\nb: " + strings.Repeat("[", 100), "depth", 3, 4 + 63},
		{"quote continuing a plain scalar", "! 0\n \": " + strings.Repeat("[", 100), "depth", 2, 5 + 62},
		{"keys after plain values", strings.Repeat("a: b\n", 8000), "nodes", 6667, 5},
		{"items after a nested line", "- - - - - !\n- - -\n" + strings.Repeat("- ", 60) + "x\n", "depth", 3, 117},
		{"tags at line ends", strings.Repeat("- !t\n", 20000), "depth", 33, 1},
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
		"empty items and keys":       strings.Repeat("- \n", 200) + strings.Repeat("a:\n", 200) + "b:\n- x\n" + strings.Repeat("c: &x\n", 30),
	}
	for _, s := range []string{"", "---", "--- ", "...", "%", "-", "- ", "a:", "&", "!", "*", "'", "\"", "\"\\", "|", "[", "]", "#", "\r", "\r\n", "- !"} {
		cases[fmt.Sprintf("%q", s)] = s
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

func TestReadCheckoutFile(t *testing.T) {
	root := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.yml", []byte("a: 1\n"))
	write("big.yml", make([]byte, 2000))
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "out.yml")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.yml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(root, "dev.yml")); err != nil {
		t.Fatal(err)
	}
	if data, err := pipeline.ReadCheckoutFile(root, "ok.yml", 1000); err != nil || string(data) != "a: 1\n" {
		t.Errorf("ok.yml: %q, %v", data, err)
	}
	for name, want := range map[string]string{
		"out.yml":     "out.yml leads outside the checkout (to " + secret + ")",
		"fifo.yml":    "fifo.yml is not a regular file (a FIFO)",
		"big.yml":     "big.yml: the file is 2000 bytes, over the limit of 1000 bytes",
		"dev.yml":     "dev.yml leads outside the checkout (to /dev/zero)",
		"missing.yml": "reading missing.yml: no such file or directory",
	} {
		_, err := pipeline.ReadCheckoutFile(root, name, 1000)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
	if _, err := pipeline.ReadCheckoutFile(root, "missing.yml", 1000); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v is not ErrNotExist", err)
	}
	// A device inside the checkout is refused too.
	if _, err := pipeline.ReadRegularFile("/dev/zero", "zero", 1000); err == nil || !strings.Contains(err.Error(), "not a regular file (a device)") {
		t.Errorf("/dev/zero: %v", err)
	}
}

func TestCheckJSONLimits(t *testing.T) {
	ok := `{"a": "[[[[[[[[[[\"[[[[", "b": [1, -2.5e10, true, null], "c": {"d": []}}`
	if err := pipeline.CheckJSONLimits("b", []byte(ok), pipeline.Limits{MaxDepth: 3}); err != nil {
		t.Errorf("ok: %v", err)
	}
	for _, c := range []struct{ data, want string }{
		{"{\n \"a\": [[[1]]]}", "b:2:9: lists and mappings nest more than 3 levels deep"},
		{`[` + strings.Repeat(`"x",`, 40) + `1]`, "b:1:158: the file holds more than 40"},
		{`[1, 1` + strings.Repeat("0", 100) + `]`, "b:1:5: a number of 101 characters, over the limit of 100"},
		{strings.Repeat(" ", 2000), "b: the file is 2000 bytes, over the limit of 1000 bytes"},
	} {
		err := pipeline.CheckJSONLimits("b", []byte(c.data), pipeline.Limits{MaxBytes: 1000, MaxDepth: 3, MaxNodes: 40})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%.40s: %v, want %q", c.data, err, c.want)
		}
	}
}
