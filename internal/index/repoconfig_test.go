package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadRepoConfig(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    pipeline.RepoConfig
		found   bool
		wantErr []string // diagnostics after the file path
	}{
		{name: "none", files: map[string]string{"Dockerfile": "FROM scratch\n"}},
		{name: "cccp.yml", found: true,
			files: map[string]string{"cccp.yml": "job-id: web\ntest-skip: false\ntest-script: tests/run.sh\n"},
			want:  pipeline.RepoConfig{File: "cccp.yml", JobID: "web", TestScript: "tests/run.sh"}},
		{name: "first name wins", found: true,
			files: map[string]string{".cccp.yml": "job-id: hidden\n", "cccp.yaml": "job-id: other\n"},
			want:  pipeline.RepoConfig{File: ".cccp.yml", JobID: "hidden"}},
		{name: ".cccp.yaml", found: true,
			files: map[string]string{".cccp.yaml": "job-id: web\ntest-skip: true\n"},
			want:  pipeline.RepoConfig{File: ".cccp.yaml", JobID: "web", TestSkip: true}},
		{name: "upstream's unused and unknown keys", found: true,
			files: map[string]string{"cccp.yml": "job-id: web\nbuild-script: b.sh\ndelivery-script: d.sh\ndocker-index: true\n" +
				"custom-delivery: c.sh\nlocal-delivery: false\nupstreams: [{ident: x}]\nsomething: else\n"},
			want: pipeline.RepoConfig{File: "cccp.yml", JobID: "web"}},
		{name: "yes is true, numbers are strings", found: true,
			files: map[string]string{"cccp.yml": "job-id: 7\ntest-skip: yes\n"},
			want:  pipeline.RepoConfig{File: "cccp.yml", JobID: "7", TestSkip: true}},
		{name: "hoist's keys", found: true,
			files: map[string]string{"cccp.yaml": "checks: {lint: blocking, lint/MaintainerDeprecated: exclude}\n" +
				"size-budget: 300MB\nstructure-tests: tests/image.cst.yaml\nautotest: hub.test.yml\n"},
			want: pipeline.RepoConfig{File: "cccp.yaml",
				Checks:     pipeline.Policies{"lint": pipeline.PolicyBlocking, "lint/MaintainerDeprecated": pipeline.PolicyExclude},
				SizeBudget: 300_000_000, StructureTests: []string{"tests/image.cst.yaml"}, Autotest: "hub.test.yml"}},
		{name: "escaping autotest", found: true,
			files:   map[string]string{"cccp.yml": "autotest: ../x.yml\n"},
			want:    pipeline.RepoConfig{File: "cccp.yml"},
			wantErr: []string{`:1:11: autotest "../x.yml" must be a file inside the folder of this file, given relative to it`}},
		{name: "script images", found: true,
			files: map[string]string{"cccp.yml": "job-id: web\nprebuild-image: registry.example.com:5000/tools/go:1.26\ntest-image:   busybox\n"},
			want: pipeline.RepoConfig{File: "cccp.yml", JobID: "web",
				PrebuildImage: pipeline.ScriptImage{Ref: "registry.example.com:5000/tools/go:1.26", Line: 2, Column: 17},
				TestImage:     pipeline.ScriptImage{Ref: "busybox", Line: 3, Column: 15}}},
		{name: "null script image", found: true,
			files: map[string]string{"cccp.yml": "prebuild-image:\ntest-image: null\n"},
			want:  pipeline.RepoConfig{File: "cccp.yml"}},
		{name: "malformed script images", found: true,
			files: map[string]string{"cccp.yml": "job-id: web\nprebuild-image: Tools/Go:1\ntest-image: docker://busybox\n"},
			want:  pipeline.RepoConfig{File: "cccp.yml", JobID: "web"},
			wantErr: []string{
				`:2:17: prebuild-image: image reference "Tools/Go:1": "Tools" is not a valid name component (repository names are lowercase); write it as [registry/]name[:tag][@digest], e.g. registry.example.com/tools/node:20`,
				`:3:13: test-image: image reference "docker://busybox" has a URL scheme; drop it (write it as [registry/]name[:tag][@digest], e.g. registry.example.com/tools/node:20)`,
			}},
		{name: "script image not a string", found: true,
			files:   map[string]string{"cccp.yml": "test-image: [busybox]\n"},
			want:    pipeline.RepoConfig{File: "cccp.yml"},
			wantErr: []string{`:1:13: test-image must be a string, got a list`}},
		{name: "empty file", found: true, files: map[string]string{"cccp.yml": ""},
			want: pipeline.RepoConfig{File: "cccp.yml"}},
		{name: "escaping test-script", found: true,
			files:   map[string]string{"cccp.yml": "job-id: web\ntest-script: ../../etc/x.sh\n"},
			want:    pipeline.RepoConfig{File: "cccp.yml", JobID: "web"},
			wantErr: []string{`:2:14: test-script "../../etc/x.sh" must be a file inside the folder of this file, given relative to it`}},
		{name: "absolute test-script", found: true,
			files:   map[string]string{"cccp.yml": "test-script: /bin/true\n"},
			want:    pipeline.RepoConfig{File: "cccp.yml"},
			wantErr: []string{`:1:14: test-script "/bin/true" must be a file inside the folder of this file, given relative to it`}},
		{name: "wrong types", found: true,
			files: map[string]string{"cccp.yml": "job-id: [web]\ntest-skip: maybe\n"},
			want:  pipeline.RepoConfig{File: "cccp.yml"},
			wantErr: []string{
				`:1:9: job-id must be a string, got a list`,
				`:2:12: test-skip must be true or false, got a string "maybe"`,
			}},
		{name: "not a mapping", found: true,
			files:   map[string]string{"cccp.yml": "- job-id: web\n"},
			want:    pipeline.RepoConfig{File: "cccp.yml"},
			wantErr: []string{`:1:1: cccp.yml must be a mapping of keys (job-id, test-skip, test-script, checks, size-budget, structure-tests, autotest, prebuild-image, test-image), got a list`}},
		{name: "invalid YAML", found: true,
			files:   map[string]string{"cccp.yml": "job-id: a: b\n"},
			want:    pipeline.RepoConfig{File: "cccp.yml"},
			wantErr: []string{`:1:9: invalid YAML: mapping value is not allowed in this context; quote the value if it contains ": "`}},
		{name: "duplicate key", found: true,
			files:   map[string]string{"cccp.yml": "job-id: a\njob-id: b\n"},
			want:    pipeline.RepoConfig{File: "cccp.yml", JobID: "a"},
			wantErr: []string{`:2:1: key "job-id" is set twice (first on line 1); remove one`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			got, found, err := RepoConfigs{}.ReadRepoConfig(dir, dir)
			if found != tt.found {
				t.Errorf("found = %v, want %v", found, tt.found)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			var wantErr []string
			for _, e := range tt.wantErr {
				wantErr = append(wantErr, filepath.Join(dir, got.File)+e)
			}
			var gotErr []string
			if err != nil {
				gotErr = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(wantErr, gotErr); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadRepoConfigErrorIsDiagnostic(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"cccp.yml": "test-skip: [1]\n"})
	_, _, err := RepoConfigs{}.ReadRepoConfig(dir, dir)
	var d Diagnostic
	if !errors.As(err, &d) || d.Line != 1 || d.Col != 12 {
		t.Errorf("err = %v, want a Diagnostic at 1:12", err)
	}
}

func TestReadRepoConfigUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "cccp.yml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, found, err := RepoConfigs{}.ReadRepoConfig(dir, dir)
	if err == nil || !found {
		t.Errorf("a cccp.yml folder: found %v, err %v; want found and an error", found, err)
	}
}

// renderRepoConfig is what a testdata/repoconfig golden file holds: every
// diagnostic, then the config that was read.
func renderRepoConfig(cfg pipeline.RepoConfig, err error) string {
	var b strings.Builder
	if err != nil {
		b.WriteString(err.Error() + "\n")
	}
	fmt.Fprintf(&b, "job-id: %q\ntest-skip: %v\ntest-script: %q\n", cfg.JobID, cfg.TestSkip, cfg.TestScript)
	var ids []string
	for id := range cfg.Checks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	checks := "nil"
	if cfg.Checks != nil {
		var parts []string
		for _, id := range ids {
			parts = append(parts, id+"="+string(cfg.Checks[id]))
		}
		checks = "{" + strings.Join(parts, ", ") + "}"
	}
	tests := "nil"
	if cfg.StructureTests != nil {
		tests = fmt.Sprintf("%q", cfg.StructureTests)
	}
	fmt.Fprintf(&b, "checks: %s\nsize-budget: %d\nstructure-tests: %s\nautotest: %q\n", checks, cfg.SizeBudget, tests, cfg.Autotest)
	return b.String()
}

// TestRepoConfigGolden parses every testdata/repoconfig/*.yml and compares
// the diagnostics and the config read with its .golden file.
func TestRepoConfigGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/repoconfig/*.yml")
	if err != nil || len(cases) < 20 {
		t.Fatalf("cases: %v, %v", cases, err)
	}
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c), ".yml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			got := renderRepoConfig(ParseRepoConfig(c, data))
			golden := strings.TrimSuffix(c, ".yml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs from %s (-want +got):\n%s", c, golden, diff)
			}
		})
	}
}

func TestSizeBudget(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1", 1}, {"300MB", 300_000_000}, {"300mb", 300_000_000}, {"300 MB", 300_000_000},
		{"1kB", 1000}, {"1KB", 1000}, {"2GB", 2_000_000_000}, {"5B", 5},
		{"1KiB", 1024}, {"1MiB", 1 << 20}, {"1.5GiB", 3 << 29}, {"0.5KiB", 512},
		{"1.0001kB", 1000}, {`"42"`, 42}, {"9223372036854775807", 9223372036854775807},
	}
	for _, tt := range tests {
		cfg, err := ParseRepoConfig("cccp.yml", []byte("size-budget: "+tt.in+"\n"))
		if err != nil || cfg.SizeBudget != tt.want {
			t.Errorf("size-budget: %s = %d, %v; want %d", tt.in, cfg.SizeBudget, err, tt.want)
		}
	}
	for _, bad := range []string{"-1", "0", "0MB", "1.5", "1e3", "MB", "12 parsecs", "1,000", "0x10", "9223372036854775808", "10GiBs", "true"} {
		cfg, err := ParseRepoConfig("cccp.yml", []byte("size-budget: "+bad+"\n"))
		var d Diagnostic
		if !errors.As(err, &d) || d.Line != 1 || d.Col != 14 || cfg.SizeBudget != 0 {
			t.Errorf("size-budget: %s = %d, %v; want a diagnostic at 1:14", bad, cfg.SizeBudget, err)
		}
	}
}

// TestChecksApply: the policies read from cccp.yml do what the issue
// says when applied to results.
func TestChecksApply(t *testing.T) {
	cfg, err := ParseRepoConfig("cccp.yml", []byte("checks:\n  lint: blocking\n  lint/MaintainerDeprecated: exclude\n  override-cmd: exclude\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Checks.Apply([]pipeline.CheckResult{
		{ID: "lint/JSONArgsRecommended", Group: pipeline.GroupLint, Status: pipeline.CheckWarn},
		{ID: "lint/MaintainerDeprecated", Group: pipeline.GroupLint, Status: pipeline.CheckWarn},
		{ID: "override-cmd", Group: pipeline.GroupCheck, Status: pipeline.CheckFail},
		{ID: "ports", Group: pipeline.GroupCheck, Status: pipeline.CheckWarn},
	})
	if len(got) != 2 || got[0].ID != "lint/JSONArgsRecommended" || !got[0].Failed() || got[1].ID != "ports" || got[1].Failed() {
		t.Errorf("applied = %+v", got)
	}
}

// FuzzRepoConfig: any bytes give a config that keeps RepoConfig's
// promises, and every problem is a located Diagnostic.
func FuzzRepoConfig(f *testing.F) {
	cases, _ := filepath.Glob("testdata/repoconfig/*.yml")
	for _, c := range cases {
		if b, err := os.ReadFile(c); err == nil {
			f.Add(b)
		}
	}
	for _, h := range hostile {
		f.Add([]byte(h.data))
	}
	f.Add([]byte("size-budget: \"" + strings.Repeat("9", 10000) + "\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg pipeline.RepoConfig
		var err error
		checkAlloc(t, func() { cfg, err = ParseRepoConfig("cccp.yml", data) })
		if err != nil {
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("error %v is not a list of Diagnostics", err)
			}
			for _, e := range joined.Unwrap() {
				d, ok := e.(Diagnostic)
				if !ok || d.File != "cccp.yml" || d.Line < 1 || d.Col < 1 || d.Message == "" {
					t.Errorf("bad diagnostic %#v", e)
				}
			}
		}
		if cfg.SizeBudget < 0 {
			t.Errorf("size-budget %d", cfg.SizeBudget)
		}
		for id, pol := range cfg.Checks {
			if id == "" || (pol != pipeline.PolicyBlocking && pol != pipeline.PolicyAdvisory && pol != pipeline.PolicyExclude) {
				t.Errorf("check %q: %q", id, pol)
			}
		}
		for _, p := range append(slices.Clone(cfg.StructureTests), cfg.TestScript, cfg.Autotest) {
			if p == "" {
				continue
			}
			if j, err := pipeline.JoinRel(".", p); err != nil || j != p || p == "." {
				t.Errorf("path %q escapes or is not clean", p)
			}
		}
	})
}
