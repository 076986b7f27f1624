package dockerfile

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hoistci/hoist/internal/pipeline"
)

// FuzzLint: whatever the bytes, Lint returns findings or an error that
// names the file, never panics (a recovered buildkit panic is an error
// this test fails on), and its findings are located, sorted and valid
// UTF-8.
func FuzzLint(f *testing.F) {
	files, _ := filepath.Glob("testdata/lint/*.Dockerfile")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "#", "\n\n", "FROM", "FROM \\\n", "FROM a\nRUN <<EOF\nx\n", "FROM a\nCOPY <<A <<B /\nA\nB\n",
		"# escape=`\nFROM a\nRUN x `\n  y\n", "FROM a AS b\nFROM b AS a\nCOPY --from=a / /\n",
		"FROM ${X:?nope}\n", "ARG X=${Y:-${Z}}\nFROM a:$X\n", "FROM a\nONBUILD ONBUILD RUN x\n",
		"FROM --platform=$BUILDPLATFORM a\nFROM --platform=linux/nope b\n", "FROM a\nHEALTHCHECK --interval=x CMD y\n",
		"FROM a\nSHELL [\"x\"\nRUN y\n", "FROM a\nEXPOSE 1-2/udp 3/SCTP 0:0:0\n", "\xef\xbb\xbfFROM a\n",
		"FROM a\r\nRUN b\r\n", "FROM a\nCOPY --from=1 / /\n", "FROM a\nADD --checksum=x https://h/x /\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		start := time.Now()
		findings, err := Linter{}.Lint(context.Background(), "Dockerfile", content, map[string]string{"A": "1"})
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Lint took %v", d)
		}
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "Dockerfile:") || strings.Contains(msg, "buildkit's linter failed") {
				t.Fatalf("error %q", msg)
			}
			if !utf8.ValidString(msg) {
				t.Fatalf("error is not UTF-8: %q", msg)
			}
			if findings != nil && !strings.Contains(msg, "check=error=true") {
				t.Fatalf("findings %v with a parse error %q", findings, msg)
			}
		}
		lines := strings.Count(string(content), "\n") + 1
		for _, f := range findings {
			if f.Rule == "" || f.Line < 1 || f.Line > lines+1 || f.Column < 1 || !utf8.ValidString(f.Message) {
				t.Fatalf("bad finding %+v", f)
			}
		}
		if !slices.IsSortedFunc(findings, func(a, b pipeline.LintFinding) int { return a.Line - b.Line }) {
			t.Fatalf("findings not sorted: %v", findings)
		}
	})
}
