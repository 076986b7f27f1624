package index

import (
	"errors"
	"os"
	"path/filepath"
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
			wantErr: []string{`:1:1: cccp.yml must be a mapping of keys (job-id, test-skip, test-script), got a list`}},
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
			got, found, err := RepoConfigs{}.ReadRepoConfig(dir)
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
	_, _, err := RepoConfigs{}.ReadRepoConfig(dir)
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
	_, found, err := RepoConfigs{}.ReadRepoConfig(dir)
	if err == nil || !found {
		t.Errorf("a cccp.yml folder: found %v, err %v; want found and an error", found, err)
	}
}
