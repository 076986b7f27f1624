package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// hostile are files that made the YAML parser take gigabytes.
var hostile = map[string]struct{ data, want string }{
	"brackets":   {"Projects: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "1:74: lists and mappings nest more than 64 levels deep here, over the limit of 64"},
	"dashes":     {"Projects:\n  " + strings.Repeat("- ", 20000) + "x\n", "2:129: lists and mappings nest more than 64 levels deep"},
	"checks":     {"checks: " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000), "1:72: lists and mappings nest more than 64 levels deep"},
	"many items": {"Projects:\n" + strings.Repeat("- x\n", 100000), "10001:1: the file holds more than 20000 keys, items and values, over the limit of 20000"},
	"size":       {"Projects: []\n#" + strings.Repeat("x", 1<<20), "index.yml:1:1: the file is 1048590 bytes, over the limit of 1048576 bytes (1 MiB)"},
}

// Every hostile file is refused with its place and the limit, and parsing
// it allocates little.
func TestParseFileHostile(t *testing.T) {
	for name, c := range hostile {
		t.Run(name, func(t *testing.T) {
			var diags []Diagnostic
			var cfgErr error
			n := allocated(func() {
				_, diags = ParseFile("index.yml", []byte(c.data))
				_, cfgErr = ParseRepoConfig("index.yml", []byte(c.data))
			})
			if n > 40<<20 {
				t.Errorf("parsing allocated %d MB", n>>20)
			}
			if len(diags) != 1 || !strings.Contains(diags[0].String(), c.want) || diags[0].Severity != Error {
				t.Errorf("diagnostics %v, want one with %q", diags, c.want)
			}
			if cfgErr == nil || !strings.Contains(cfgErr.Error(), c.want) {
				t.Errorf("cccp.yml: %v, want %q", cfgErr, c.want)
			}
		})
	}
}

func TestLoadMaxFileSize(t *testing.T) {
	dir := t.TempDir()
	entry := "Projects:\n  - id: 1\n    app-id: big\n    job-id: web\n    git-url: https://example.com/web.git\n    git-path: /\n" +
		"    git-branch: main\n    target-file: Dockerfile\n    notify-email: a@example.com\n"
	body := entry + "# " + strings.Repeat("x", 3000) + "\n"
	writeFiles(t, dir, map[string]string{"big.yaml": body})
	res, err := Options{MaxFileSize: 2000}.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "big.yaml")
	want := file + ": the file is " + strconv.Itoa(len(body)) + " bytes, over the limit of 2000 bytes; make it smaller or raise --max-index-file-size"
	if len(res.Errors()) != 1 || res.Errors()[0].String() != want || len(res.Projects) != 0 {
		t.Errorf("errors %v, want %q", res.Errors(), want)
	}
	if res, err := (Options{MaxFileSize: 4000}).Load(dir); err != nil || res.HasErrors() || len(res.Projects) != 1 {
		t.Errorf("with 4000 bytes: %v, %v", res, err)
	}
	if ps, errs, err := (Loader{MaxFileSize: 2000}).LoadIndex(dir); err != nil || len(ps) != 0 || len(errs) != 1 {
		t.Errorf("Loader ignores MaxFileSize: %v, %v, %v", ps, errs, err)
	}
}

// A FIFO in the index folder is refused, not waited on.
func TestLoadFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "fifo.yaml is not a regular file (a FIFO)") {
		t.Errorf("err = %v", err)
	}
}

// cccp.yml is read only when it stays in the checkout, is a regular file
// and is within the size limit.
func TestReadRepoConfigRefuses(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("job-id: root\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		make func(t *testing.T, p string)
		want string
	}{
		"symlink out": {func(t *testing.T, p string) { must(t, os.Symlink(secret, p)) },
			"app/cccp.yml leads outside the checkout (to " + secret + ")"},
		"symlink up": {func(t *testing.T, p string) {
			rel, err := filepath.Rel(filepath.Dir(p), secret)
			must(t, err)
			must(t, os.Symlink(rel, p))
		},
			"app/cccp.yml leads outside the checkout"},
		"fifo":   {func(t *testing.T, p string) { must(t, syscall.Mkfifo(p, 0o644)) }, "app/cccp.yml is not a regular file (a FIFO)"},
		"device": {func(t *testing.T, p string) { must(t, syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5)) }, "app/cccp.yml is not a regular file (a device)"},
		"big": {func(t *testing.T, p string) {
			must(t, os.WriteFile(p, []byte("job-id: web\n#"+strings.Repeat("x", 1<<20)), 0o644))
		}, "app/cccp.yml: the file is 1048589 bytes, over the limit of 1048576 bytes (1 MiB)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "app")
			must(t, os.Mkdir(dir, 0o755))
			c.make(t, filepath.Join(dir, "cccp.yml"))
			cfg, found, err := RepoConfigs{}.ReadRepoConfig(root, dir)
			if err == nil || !strings.Contains(err.Error(), c.want) || !found || cfg.JobID != "" {
				t.Errorf("found %v, cfg %+v, err %v; want %q", found, cfg, err, c.want)
			}
		})
	}
	// A symlink that stays in the checkout is followed.
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	must(t, os.Mkdir(dir, 0o755))
	writeFiles(t, root, map[string]string{"common.yml": "job-id: web\n"})
	must(t, os.Symlink("../common.yml", filepath.Join(dir, "cccp.yml")))
	if cfg, found, err := (RepoConfigs{}).ReadRepoConfig(root, dir); err != nil || !found || cfg.JobID != "web" {
		t.Errorf("symlink inside: %+v, %v, %v", cfg, found, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("not allowed here: %v", err)
		}
		t.Fatal(err)
	}
}

// A size-budget of a million digits is refused before it is read as a
// number.
func TestSizeBudgetLength(t *testing.T) {
	for _, data := range []string{
		"size-budget: \"" + strings.Repeat("9", 100_000) + "\"\n",
		"size-budget: '1" + strings.Repeat("0", 40) + "MB'\n",
	} {
		var err error
		n := allocated(func() { _, err = ParseRepoConfig("cccp.yml", []byte(data)) })
		if err == nil || !strings.Contains(err.Error(), "cccp.yml:1:14: size-budget is") || !strings.Contains(err.Error(), "over the limit of 32 for a size") {
			t.Errorf("err = %.200v", err)
		}
		if n > 40<<20 {
			t.Errorf("allocated %d MB", n>>20)
		}
	}
	for _, data := range []string{"size-budget: " + strings.Repeat("9", 101) + "\n"} {
		_, err := ParseRepoConfig("cccp.yml", []byte(data))
		if err == nil || !strings.Contains(err.Error(), "cccp.yml:1:14: a number of 101 characters, over the limit of 100") {
			t.Errorf("err = %.200v", err)
		}
	}
}

// With a Root (an index read from git), an index file that leads outside
// the checkout is an error and is not read; one linked inside is read.
func TestLoadRoot(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret.yaml")
	must(t, os.WriteFile(secret, []byte("Projects: [\n"), 0o600))
	root := t.TempDir()
	dir := filepath.Join(root, "index.d")
	must(t, os.Mkdir(dir, 0o755))
	must(t, os.Symlink(secret, filepath.Join(dir, "evil.yaml")))
	writeFiles(t, root, map[string]string{"real.yaml": "Projects: []\n"})
	must(t, os.Symlink("../real.yaml", filepath.Join(dir, "ok.yaml")))
	res, err := Options{Root: root}.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "evil.yaml") + ": the file is not read: index.d/evil.yaml leads outside the checkout (to " + secret + "); symlinks must stay inside the repository"
	if errs := res.Errors(); len(errs) != 1 || errs[0].String() != want {
		t.Errorf("errors %v, want %q", errs, want)
	}
	if res.Files != 2 {
		t.Errorf("%d files", res.Files)
	}
	// Without a Root (a folder the operator gives), links are followed.
	if res, err := Load(root); err != nil || len(res.Errors()) != 1 || !strings.Contains(res.Errors()[0].String(), "evil.yaml:1:11: invalid YAML") {
		t.Errorf("without a root: %v, %v", res, err)
	}
}

// Merge keys of merge keys, each bringing in a mapping nine times, are
// refused once they expand too far, instead of being followed 9^16 times.
func TestMergeBomb(t *testing.T) {
	s := "a0: &a0 {x: 1, y: 2, z: 3, w: 4}\n"
	for i := 1; i < 16; i++ {
		s += fmt.Sprintf("a%d: &a%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), ","))
	}
	want := "merge keys (<<) expand to more than 20000 mappings and keys in all, over the limit"
	_, err := ParseRepoConfig("cccp.yml", []byte(s+"checks: {<<: *a15}\n"))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("cccp.yml: %v", err)
	}
	_, diags := ParseFile("index.yml", []byte(s+"Projects:\n- <<: *a15\n  id: 1\n"))
	found := false
	for _, d := range diags {
		found = found || (strings.Contains(d.Message, want) && d.Line > 1)
	}
	if !found {
		t.Errorf("index: %v", diags)
	}
}
