package index

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
)

// fixture is the real index of CentOS/container-index at e55be4b, in the
// shared/ folder that sits beside the repository.
const fixture = "../../../shared/fixtures/container-index"

func loadFixture(t *testing.T) *Result {
	t.Helper()
	res, err := Load(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func fixtureFile(name string) string { return filepath.Join(fixture, "index.d", name) }

func ref(ns, name, tag string) pipeline.ImageRef {
	return pipeline.ImageRef{Namespace: ns, Name: name, Tag: tag}
}

func TestLoadFixture(t *testing.T) {
	res := loadFixture(t)
	if errs := res.Errors(); len(errs) > 0 {
		t.Errorf("the real index has %d errors, want none; first: %v", len(errs), errs[0])
	}
	if len(res.Projects) != 234 || res.Files != 33 {
		t.Errorf("got %d projects from %d files, want 234 from 33", len(res.Projects), res.Files)
	}
	byOrigin := map[pipeline.Origin]pipeline.Project{}
	for _, p := range res.Projects {
		byOrigin[p.Origin] = p
	}
	for _, want := range fixtureProjects() {
		got, ok := byOrigin[want.Origin]
		if !ok {
			t.Errorf("no project at %s:%d", want.Origin.File, want.Origin.Line)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("project at %s:%d (-want +got):\n%s", want.Origin.File, want.Origin.Line, diff)
		}
	}
}

// fixtureProjects are entries of the real index worth checking field by field.
func fixtureProjects() []pipeline.Project {
	return []pipeline.Project{
		{ // the first library entry: no namespace, a branch, a sub-folder
			ID: 1, AppID: "library", JobID: "centos", Tag: "latest",
			GitURL: "https://github.com/CentOS/sig-cloud-instance-images", GitBranch: "CentOS-7",
			GitPath: "docker", TargetFile: "Dockerfile", BuildContext: ".",
			NotifyEmail: "bamachrn@gmail.com",
			Origin:      pipeline.Origin{File: fixtureFile("library.yaml"), Line: 2},
		},
		{ // a numeric desired-tag: 7 is the tag "7"
			ID: 22, AppID: "centos", JobID: "centos", Tag: "7",
			GitURL: "https://github.com/CentOS/sig-cloud-instance-images", GitBranch: "CentOS-7",
			GitPath: "docker", TargetFile: "Dockerfile", BuildContext: ".",
			DependsOn:   []pipeline.ImageRef{ref("centos", "centos", "latest")},
			NotifyEmail: "bamachrn@gmail.com",
			Origin:      pipeline.Origin{File: fixtureFile("centos.yaml"), Line: 254},
		},
		{ // depends-on as a list
			ID: 26, AppID: "centos", JobID: "kubernetes-apiserver", Tag: "latest",
			GitURL: "https://github.com/CentOS/CentOS-Dockerfiles", GitBranch: "master",
			GitPath: "kubernetes/apiserver", TargetFile: "Dockerfile", BuildContext: ".",
			DependsOn:   []pipeline.ImageRef{ref("centos", "centos", "latest"), ref("centos", "kubernetes-master", "latest")},
			NotifyEmail: "jbrooks@redhat.com",
			Origin:      pipeline.Origin{File: fixtureFile("centos.yaml"), Line: 304},
		},
		{ // mariadb: build-context ../ under git-path 10.0/ stays in the repository
			ID: 119, AppID: "centos", JobID: "mariadb-100-centos7", Tag: "latest",
			GitURL: "https://github.com/sclorg/mariadb-container.git", GitBranch: "master",
			GitPath: "10.0", TargetFile: "Dockerfile", BuildContext: "..",
			DependsOn:   []pipeline.ImageRef{ref("centos", "centos", "latest"), ref("centos", "s2i-core-centos7", "latest")},
			NotifyEmail: "hhorak@redhat.com",
			Origin:      pipeline.Origin{File: fixtureFile("centos.yaml"), Line: 863},
		},
		{ // keys written "depends-on  :" and a tag without "latest"
			ID: 1, AppID: "container-examples", JobID: "starter-arbitrary-uid", Tag: "latest",
			GitURL: "https://github.com/RHsyseng/container-rhel-examples", GitBranch: "master",
			GitPath: "starter-arbitrary-uid", TargetFile: "Dockerfile.centos7", BuildContext: ".",
			DependsOn:   []pipeline.ImageRef{ref("centos", "centos", "7")},
			NotifyEmail: "aos-aie@redhat.com",
			Origin:      pipeline.Origin{File: fixtureFile("container-examples.yaml"), Line: 2},
		},
		{ // prebuild-script and prebuild-context
			ID: 1, AppID: "caddyserver", JobID: "caddyserver", Tag: "latest",
			GitURL: "https://github.com/CentOS/CentOS-Dockerfiles", GitBranch: "master",
			GitPath: "caddy_server/centos7", TargetFile: "Dockerfile", BuildContext: ".",
			PrebuildScript: "cccp-prebuild.sh", PrebuildContext: "caddy_server/centos7",
			NotifyEmail: "mohammed.zee1000@gmail.com",
			Origin:      pipeline.Origin{File: fixtureFile("caddyserver.yaml"), Line: 2},
		},
		{ // prebuild-context "/" is the root; desired-tag 1 is "1"
			ID: 8, AppID: "kbsingh", JobID: "container-prebuild", Tag: "1",
			GitURL: "https://gitlab.com/kbsingh/container-prebuild.git", GitBranch: "master",
			GitPath: ".", TargetFile: "Dockerfile", BuildContext: ".",
			PrebuildScript: "pre-build.sh", PrebuildContext: ".",
			DependsOn:   []pipeline.ImageRef{ref("centos", "centos", "latest")},
			NotifyEmail: "cp.build.inb@karan.org",
			Origin:      pipeline.Origin{File: fixtureFile("kbsingh.yaml"), Line: 86},
		},
		{ // build_context misspelt: ignored, so build-context is the default; git-path "/server"
			ID: 11, AppID: "pipeline-images", JobID: "dockerfile-lint-worker", Tag: "latest",
			GitURL: "https://github.com/dharmit/container-pipeline-service", GitBranch: "fix-osio-1378",
			GitPath: "server", TargetFile: "Dockerfile.linter", BuildContext: ".",
			DependsOn:   []pipeline.ImageRef{ref("dharmit", "base", "latest")},
			NotifyEmail: "shahdharmit@gmail.com",
			Origin:      pipeline.Origin{File: fixtureFile("pipeline-images.yaml"), Line: 122},
		},
	}
}

func TestLoadFixtureUnknownKeys(t *testing.T) {
	res := loadFixture(t)
	var got []string
	for _, d := range res.Warnings() {
		if strings.Contains(d.Message, "unknown key") {
			got = append(got, d.String())
		}
	}
	file := fixtureFile("pipeline-images.yaml")
	msg := `: warning: unknown key "build_context"; did you mean "build-context"? It is ignored (upstream ignored it too), so build-context is "./", the default`
	want := []string{file + ":132:5" + msg, file + ":145:5" + msg, file + ":157:5" + msg}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unknown-key warnings (-want +got):\n%s", diff)
	}
}

func TestLoadFixtureOrder(t *testing.T) {
	res := loadFixture(t)
	order, cycles := pipeline.Order(res.Projects)
	if len(cycles) > 0 || len(order) != len(res.Projects) {
		t.Errorf("Order: %d of %d projects ordered, cycles %v", len(order), len(res.Projects), cycles)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := filepath.Join(fixture, "index.d")
	tests := []struct {
		name      string
		paths     []string
		files     int
		projects  int
		wantError bool
	}{
		{"folder holding index.d", []string{fixture}, 33, 234, false},
		{"index.d folder", []string{dir}, 33, 234, false},
		{"single file", []string{filepath.Join(dir, "library.yaml")}, 1, 4, false},
		{"a file named twice", []string{filepath.Join(dir, "library.yaml"), dir + "/./library.yaml"}, 1, 4, false},
		{"two files", []string{filepath.Join(dir, "library.yaml"), filepath.Join(dir, "microsoft.yml")}, 2, 5, false},
		{"missing path", []string{filepath.Join(dir, "nope.yaml")}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Load(tt.paths...)
			if tt.wantError {
				if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
					t.Errorf("Load: err = %v, want one naming the path", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Files != tt.files || len(res.Projects) != tt.projects || res.HasErrors() {
				t.Errorf("got %d files, %d projects, errors %v; want %d, %d, none",
					res.Files, len(res.Projects), res.Errors(), tt.files, tt.projects)
			}
		})
	}
}

func TestLoadEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	res, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Diagnostic{{File: dir, Severity: Warning, Message: "no projects: no *.yaml or *.yml files in this folder"}}
	if diff := cmp.Diff(want, res.Diagnostics); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "index.d/a.yaml", Line: 3, Col: 5, Message: "bad"}, "index.d/a.yaml:3:5: bad"},
		{Diagnostic{File: "index.d/a.yaml", Line: 3, Col: 5, Severity: Warning, Message: "odd"}, "index.d/a.yaml:3:5: warning: odd"},
		{Diagnostic{File: "index.d", Severity: Warning, Message: "empty"}, "index.d: warning: empty"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
