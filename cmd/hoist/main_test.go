package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/registry"
)

func hoist(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	code, out, errs := hoist("index", "validate", "../../../shared/fixtures/container-index/index.d")
	if code != 0 || !strings.Contains(out, "ok: 234 projects in 33 files, 5 warnings") {
		t.Errorf("real index: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, `pipeline-images.yaml:132:5: warning: unknown key "build_context"; did you mean "build-context"?`) {
		t.Errorf("warnings missing:\n%s", errs)
	}

	dir := t.TempDir()
	bad := "Projects:\n  - id: 1\n    app-id: other\n    job-id: web\n    git-url: https://example.com/x.git\n    git-path: /\n    target-file: Dockerfile\n    depends-on: Not/AnImage\n"
	if err := os.WriteFile(filepath.Join(dir, "demo.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = hoist("index", "validate", dir)
	if code != 1 || out != "" {
		t.Errorf("bad index: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		filepath.Join(dir, "demo.yaml") + `:3:13: app-id "other" does not match the file name`,
		filepath.Join(dir, "demo.yaml") + `:8:17: depends-on: image reference "Not/AnImage"`,
		"2 errors in the index",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"index"}, 2, "Usage:"},
		{[]string{"index", "validate"}, 2, "usage: hoist index validate PATH..."},
		{[]string{"run"}, 2, "usage: hoist run --index PATH"},
		{[]string{"run", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"index", "validate", "/nonexistent/index.d"}, 1, "/nonexistent/index.d"},
		{[]string{"run", "--index", "../../examples/index.d", "--only", "nobody/nothing"}, 1, "--only nobody/nothing: no entry of the index builds that image"},
	}
	for _, tt := range tests {
		code, out, errs := hoist(tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("hoist %v: exit %d, want %d with %q\n%s%s", tt.args, code, tt.code, tt.want, out, errs)
		}
		if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "panic") {
			t.Errorf("hoist %v printed a stack:\n%s", tt.args, errs)
		}
	}
}

func TestLogsAndImagesOnEmptyData(t *testing.T) {
	data := t.TempDir()
	if code, _, errs := hoist("images", "--data", data); code != 0 || !strings.Contains(errs, "nothing delivered yet") {
		t.Errorf("images: exit %d %s", code, errs)
	}
	if code, _, errs := hoist("logs", "--data", data, "demo/web"); code != 1 || !strings.Contains(errs, "no builds of demo/web:latest") {
		t.Errorf("logs: exit %d %s", code, errs)
	}
}

// A hostile index file is one error naming its place and the limit; the
// size limit is --max-index-file-size.
func TestValidateLimits(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "deep.yaml")
	if err := os.WriteFile(deep, []byte("Projects: "+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := hoist("index", "validate", deep)
	if code != 1 || !strings.Contains(errs, deep+":1:74: lists and mappings nest more than 64 levels deep here, over the limit of 64") {
		t.Errorf("deep: exit %d\n%s", code, errs)
	}
	code, _, errs = hoist("index", "validate", "--max-index-file-size", "30KB", "../../../shared/fixtures/container-index/index.d")
	if code != 1 || !strings.Contains(errs, "centos.yaml: the file is 33901 bytes, over the limit of 30720 bytes (30 KiB); make it smaller or raise --max-index-file-size") {
		t.Errorf("30KB: exit %d\n%s", code, errs)
	}
	code, _, errs = hoist("index", "validate", "--max-index-file-size", "1x", deep)
	if code != 2 || !strings.Contains(errs, `invalid value "1x" for flag -max-index-file-size`) {
		t.Errorf("1x: exit %d\n%s", code, errs)
	}
}

func TestDataFolderIsPrivate(t *testing.T) {
	data := t.TempDir()
	if err := os.Chmod(data, 0o755); err != nil { // as an older Hoist made it
		t.Fatal(err)
	}
	if code, _, errs := hoist("images", "--data", data); code != 0 {
		t.Fatalf("images: exit %d %s", code, errs)
	}
	for path, want := range map[string]os.FileMode{data: 0o700, filepath.Join(data, "hoist.db"): 0o600} {
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want %v", path, fi.Mode(), want)
		}
	}
}

func TestWarnExposed(t *testing.T) {
	for addr, warn := range map[string]bool{"127.0.0.1:5000": false, "[::1]:5000": false, "localhost:5000": false,
		"0.0.0.0:5000": true, "[::]:5000": true, "192.168.1.2:5000": true} {
		var b bytes.Buffer
		warnExposed(&b, addr, registry.AccessPublicRead)
		if got := strings.Contains(b.String(), "warning: the embedded registry listens on "+addr+", beyond this machine"); got != warn {
			t.Errorf("warnExposed(%s) = %q, want a warning %v", addr, b.String(), warn)
		}
	}
}
