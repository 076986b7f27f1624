package index

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
)

// entryYAML is one valid entry of app-id "app" with extra lines.
func entryYAML(extra string) []byte {
	return []byte(`Projects:
  - id: 1
    app-id: app
    job-id: web
    git-path: /
    target-file: Dockerfile
    notify-email: dev@example.com
` + extra)
}

// TestValues checks how values upstream accepted are read.
func TestValues(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "index.d", "app.yaml")
	tests := []struct {
		name  string
		extra string
		want  func(p *pipeline.Project)
	}{
		{"defaults", "    git-url: https://example.com/r.git\n", func(p *pipeline.Project) {}},
		{"integer tag", "    git-url: https://example.com/r.git\n    desired-tag: 7\n", func(p *pipeline.Project) { p.Tag = "7" }},
		{"float tag keeps its digits", "    git-url: https://example.com/r.git\n    desired-tag: 2.40\n", func(p *pipeline.Project) { p.Tag = "2.40" }},
		{"null tag", "    git-url: https://example.com/r.git\n    desired-tag:\n", func(p *pipeline.Project) {}},
		{"empty tag", "    git-url: https://example.com/r.git\n    desired-tag: ''\n", func(p *pipeline.Project) {}},
		{"numeric branch", "    git-url: https://example.com/r.git\n    git-branch: 10\n", func(p *pipeline.Project) { p.GitBranch = "10" }},
		{"depends-on without tag", "    git-url: https://example.com/r.git\n    depends-on: library/centos\n", func(p *pipeline.Project) {
			p.DependsOn = []pipeline.ImageRef{{Name: "centos", Tag: "latest"}}
		}},
		{"empty depends-on", "    git-url: https://example.com/r.git\n    depends-on: ''\n", func(p *pipeline.Project) {}},
		{"git-url ..", "    git-url: ..\n", func(p *pipeline.Project) { p.GitURL = dir }},
		{"git-url ./repo", "    git-url: ./repo\n", func(p *pipeline.Project) { p.GitURL = filepath.Join(dir, "index.d", "repo") }},
		{"absolute path", "    git-url: /srv/git/r\n", func(p *pipeline.Project) { p.GitURL = "/srv/git/r" }},
		{"file url", "    git-url: file:///srv/git/r\n", func(p *pipeline.Project) { p.GitURL = "file:///srv/git/r" }},
		{"scp-like", "    git-url: git@github.com:user/r.git\n", func(p *pipeline.Project) { p.GitURL = "git@github.com:user/r.git" }},
		{"ssh url", "    git-url: ssh://git@host:22/r\n", func(p *pipeline.Project) { p.GitURL = "ssh://git@host:22/r" }},
		{"git url", "    git-url: git://github.com/openshift/origin\n", func(p *pipeline.Project) { p.GitURL = "git://github.com/openshift/origin" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := pipeline.Project{ID: 1, AppID: "app", JobID: "web", Tag: "latest",
				GitURL: "https://example.com/r.git", GitBranch: "master", GitPath: ".",
				TargetFile: "Dockerfile", BuildContext: ".", NotifyEmail: "dev@example.com",
				Origin: pipeline.Origin{File: name, Line: 2}}
			tt.want(&want)
			got, diags := ParseFile(name, entryYAML(tt.extra))
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics: %v", diags)
			}
			if diff := cmp.Diff([]pipeline.Project{want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestIndexYMLAllowsAnyAppID(t *testing.T) {
	data := []byte("Projects:\n  - {id: 1, app-id: other, job-id: web, git-url: x/y, git-path: /, target-file: Dockerfile, notify-email: a@b}\n")
	if _, diags := ParseFile("index.yml", data); len(diags) > 0 {
		t.Errorf("index.yml: %v", diags)
	}
	if _, diags := ParseFile("index.d/app.yml", data); len(diags) != 1 {
		t.Errorf("app.yml: got %v, want one app-id error", diags)
	}
}
