package cst

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestParseErrors: a file that is not a v2 test file is an error at
// file:line:col, and ParseError turns it into one failed result there.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want, loc string
	}{
		{"empty", "", "the file is empty", "a.cst.yaml:1:1"},
		{"comments only", "# nothing\n", "the file is empty", "a.cst.yaml:1:1"},
		{"not a mapping", "- a\n- b\n", "got a list", "a.cst.yaml:1:1"},
		{"no schemaVersion", "commandTests: []\n", "schemaVersion is missing", "a.cst.yaml:1:1"},
		{"schema 1.0.0", "commandTests: []\nschemaVersion: 1.0.0\n", `schemaVersion "1.0.0" is not supported`, "a.cst.yaml:2:16"},
		{"schema as a float", "schemaVersion: 2.0\n", `schemaVersion "2.0" is not supported`, "a.cst.yaml:1:16"},
		{"schema a list", "schemaVersion: [2]\n", `schemaVersion must be "2.0.0", got a list`, "a.cst.yaml:1:16"},
		{"syntax", "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n   command: b\n", "", "a.cst.yaml:4:"},
		{"tab", "schemaVersion: 2.0.0\ncommandTests:\n\t- name: a\n", "indent with spaces", "a.cst.yaml:3:"},
		{"duplicate key", "schemaVersion: 2.0.0\ncommandTests: []\ncommandTests: []\n", "already defined", "a.cst.yaml:3:1"},
		{"tests not a list", "schemaVersion: 2.0.0\ncommandTests:\n  name: a\n", "commandTests must be a list of tests", "a.cst.yaml:3:3"},
		{"two documents", "schemaVersion: 2.0.0\n---\nschemaVersion: 2.0.0\n", "a second YAML document", "a.cst.yaml:3:1"},
		{"dangling alias", "schemaVersion: 2.0.0\ncommandTests: *nope\n", "*nope has no anchor", "a.cst.yaml:2:"},
		{"alias bomb", bomb(), "expands to more than", "a.cst.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("a.cst.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("parsed: %+v", f)
			}
			if !strings.HasPrefix(err.Error(), tt.loc) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it at %s containing %q", err, tt.loc, tt.want)
			}
			r := ParseError("a.cst.yaml", err)
			if r.Status != pipeline.CheckFail || !r.Blocking || r.Group != pipeline.GroupStructureTest ||
				r.ID != "structure-test/a.cst.yaml" || !strings.HasPrefix(r.Location, tt.loc) || strings.Count(r.Location, ":") != 2 || r.Detail != err.Error() {
				t.Errorf("ParseError = %+v", r)
			}
		})
	}
	if r := ParseError("x.yaml", errors.New("reading x.yaml: permission denied")); r.Location != "x.yaml" || r.Status != pipeline.CheckFail {
		t.Errorf("ParseError of a plain error = %+v", r)
	}
}

// bomb is a "billion laughs" document.
func bomb() string {
	var b strings.Builder
	b.WriteString("schemaVersion: 2.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// TestParse checks what Parse reads: defaults, types as upstream's YAML
// reads them, positions, anchors and merge keys.
func TestParse(t *testing.T) {
	f, err := Parse("p.cst.yaml", []byte(`schemaVersion: "2.0.0"
globalEnvVars:
  - {key: A, value: $HOME/x}
base: &base
  path: /etc/passwd
fileExistenceTests:
  - name: defaults
    path: /x
  - <<: *base
    name: merged
    shouldExist: no
    uid: 0
    gid: 0x10
    permissions: -rw-r--r--
commandTests:
  - name: typed
    command: 7
    args: [1, true, 2.50, ~]
    exitCode: 2.0
    setup: [[a, b], [c]]
    expectedOutput: ['x']
    envVars: [{key: K, value: V, isRegex: true}]
metadataTest:
  cmd: ~
  entrypoint: []
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "p.cst.yaml" || f.SchemaVersion != "2.0.0" || len(f.GlobalEnvVars) != 1 || f.GlobalEnvVars[0].Value != "$HOME/x" || f.GlobalEnvVars[0].Pos != (Pos{3, 5}) {
		t.Errorf("file: %+v", f)
	}
	var names []string
	for _, x := range f.Tests {
		names = append(names, string(x.Kind)+"/"+x.Name)
	}
	want := []string{"Unsupported/base", "File Existence Test/defaults", "File Existence Test/merged", "Command Test/typed", "Metadata Test/Metadata Test"}
	if !slices.Equal(names, want) {
		t.Fatalf("tests %v, want %v", names, want)
	}
	def, merged, typed, meta := f.Tests[1], f.Tests[2], f.Tests[3], f.Tests[4]
	if !def.ShouldExist || def.UID != -1 || def.GID != -1 || def.Permissions != "" || def.Pos != (Pos{7, 5}) || len(def.Problems) > 0 {
		t.Errorf("defaults: %+v", def)
	}
	if merged.ShouldExist || merged.UID != 0 || merged.GID != 16 || merged.Path != "/etc/passwd" || merged.Permissions != "-rw-r--r--" || len(merged.Problems) > 0 {
		t.Errorf("merged: %+v", merged)
	}
	if typed.Command != "7" || !slices.Equal(typed.Args, []string{"1", "true", "2.50", ""}) || typed.ExitCode != 2 ||
		len(typed.Setup) != 2 || typed.ExpectedOutput[0].Pos != (Pos{21, 22}) || !typed.EnvVars[0].IsRegex || len(typed.Problems) > 0 {
		t.Errorf("typed: %+v", typed)
	}
	if meta.Metadata.Cmd != nil || meta.Metadata.Entrypoint == nil || len(*meta.Metadata.Entrypoint) != 0 || meta.Pos != (Pos{23, 1}) {
		t.Errorf("metadata: %+v", meta.Metadata)
	}
	if !strings.Contains(f.Tests[0].Problems[0], `p.cst.yaml:4:1: unsupported field "base"`) {
		t.Errorf("base: %v", f.Tests[0].Problems)
	}
}

// TestParseProblems: fields of the wrong type or value make problems at
// their own position; the test is kept so that it fails where it is.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		test, want string
	}{
		{"commandTests:\n  - name: a\n    command: [sh, -c]\n", "p:4:14: command must be a string in schemaVersion 2.0.0"},
		{"commandTests:\n  - name: a\n    command: x\n    args: x\n", "p:5:11: args must be a list of strings"},
		{"commandTests:\n  - name: a\n    command: x\n    args: [[x]]\n", "p:5:12: each item of args must be a string, got a list"},
		{"commandTests:\n  - name: a\n    command: x\n    exitCode: one\n", "p:5:15: exitCode must be an integer, got a string"},
		{"commandTests:\n  - name: a\n    command: x\n    exitCode: 1.5\n", "exitCode must be an integer"},
		{"commandTests:\n  - name: a\n    command: x\n    setup: [[]]\n", "p:5:13: setup[0] is an empty command"},
		{"commandTests:\n  - name: a\n    command: x\n    teardown: [x]\n", "teardown[0] must be a list of strings"},
		{"commandTests:\n  - name: a\n    command: x\n    envVars: [{value: v}]\n", "p:5:15: an item of envVars has no key"},
		{"commandTests:\n  - name: a\n    command: x\n    envVars: [{key: k, value: v, regex: true}]\n", `unsupported field "regex": an item of envVars has no such field`},
		{"commandTests:\n  - name: a\n    command: x\n    envVars: {key: k}\n", "envVars must be a list of {key: NAME, value: VALUE}"},
		{"commandTests:\n  - just a string\n", "p:3:5: each item of commandTests must be a mapping"},
		{"fileExistenceTests:\n  - name: a\n    path: /x\n    shouldExist: maybe\n", "p:5:18: shouldExist must be true or false"},
		{"fileExistenceTests:\n  - name: a\n    path: /x\n    uid: root\n", "p:5:10: uid must be an integer"},
		{"fileExistenceTests:\n  - name: a\n", "file existence test \"a\" has no path"},
		{"fileContentTests:\n  - name: a\n    path: /x\n    expectedContents: ['[']\n", "p:5:24: expectedContents: \"[\" is not a valid regular expression"},
		{"metadataTest:\n  exposedPorts: ['']\n", "exposedPorts has an empty port"},
		{"metadataTest:\n  volumes: ['']\n", "volumes has an empty volume"},
		{"metadataTest:\n  labels: [{value: x}]\n", "an item of labels has no key"},
		{"metadataTest:\n  envVars: [{key: A, value: '(', isRegex: true}]\n", "is not a valid regular expression"},
		{"metadataTest:\n  Workdir: /x\n", `unsupported field "Workdir": metadataTest has no such field (upstream rejects the whole file); did you mean "workdir"?`},
		{"metadataTest: [x]\n", "metadataTest must be a mapping, got a list"},
		{"globalEnvVars:\n  - value: x\n", "p:3:5: an item of globalEnvVars has no key"},
		{"containerRunOptions:\n  envFile: .env\n", "p:3:3: containerRunOptions.envFile is not supported by Hoist (only user is)"},
		{"containerRunOptions:\n  usr: root\n", `unsupported field "usr": containerRunOptions has no such field`},
	}
	for _, tt := range tests {
		f, err := Parse("p", []byte("schemaVersion: 2.0.0\n"+tt.test))
		if err != nil {
			t.Errorf("%q: %v", tt.test, err)
			continue
		}
		var all []string
		for _, x := range f.Tests {
			all = append(all, x.Problems...)
		}
		if !slices.ContainsFunc(all, func(p string) bool { return strings.Contains(p, tt.want) }) {
			t.Errorf("%q: problems %q, want one containing %q", tt.test, all, tt.want)
		}
	}
	// What is valid has no problem.
	f, err := Parse("p", []byte("schemaVersion: 2.0.0\ncontainerRunOptions:\n  user: root\n  capabilities: []\n  allocateTty: false\nmetadataTest: {}\ncommandTests: ~\n"))
	if err != nil || len(f.Tests) != 0 || f.RunUser != "root" || !f.RunOptionsSet {
		t.Errorf("valid file: %+v, %v", f, err)
	}
}

// TestFind: listed files must exist inside dir; otherwise *.cst.yaml and
// *.cst.yml are found, sorted.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, n := range []string{"b.cst.yaml", "a.cst.yml", "c.yaml", "sub/d.cst.yaml", "x.cst.yaml.bak"} {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("schemaVersion: 2.0.0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("x"), 0o644)
	got, err := Find(dir, nil)
	if err != nil || !slices.Equal(got, []string{"a.cst.yml", "b.cst.yaml"}) {
		t.Errorf("Find = %v, %v", got, err)
	}
	got, err = Find(dir, []string{"sub/d.cst.yaml", "./c.yaml", "sub/../sub/d.cst.yaml"})
	if err != nil || !slices.Equal(got, []string{"sub/d.cst.yaml", "c.yaml"}) {
		t.Errorf("Find(listed) = %v, %v", got, err)
	}
	for _, tt := range []struct {
		listed []string
		want   string
	}{
		{[]string{"nope.yaml"}, `"nope.yaml" listed in cccp.yml does not exist`},
		{[]string{"../x.yaml"}, "outside the checkout"},
		{[]string{"sub"}, "not a regular file"},
		{[]string{""}, "empty container-structure-test file name"},
		{[]string{"/b.cst.yaml"}, "is an absolute path"},
		{[]string{"link.yaml"}, "outside the checkout"},
	} {
		if tt.listed[0] == "link.yaml" {
			os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "link.yaml"))
		}
		if _, err := Find(dir, tt.listed); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Find(%q) = %v, want an error containing %q", tt.listed, err, tt.want)
		}
	}
	// A found file that is a symlink out of the folder is an error too.
	os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "evil.cst.yaml"))
	if _, err := Find(dir, nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("Find with an escaping symlink: %v", err)
	}
}
