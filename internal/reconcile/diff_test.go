package reconcile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoistci/hoist/internal/pipeline"
)

// entry is an index entry ns/name:latest from index.d/ns.yaml at line.
func entry(ns, name string, line int) pipeline.Project {
	return pipeline.Project{ID: line, AppID: ns, JobID: name, Tag: "latest",
		GitURL: "https://example.com/" + name + ".git", GitBranch: "master", GitPath: ".",
		TargetFile: "Dockerfile", BuildContext: ".", NotifyEmail: "ops@example.com",
		Origin: pipeline.Origin{File: "index.d/" + ns + ".yaml", Line: line}}
}

func with(p pipeline.Project, f func(*pipeline.Project)) pipeline.Project {
	f(&p)
	return p
}

func TestDiff(t *testing.T) {
	a, b, c := entry("ns", "a", 1), entry("ns", "b", 2), entry("ns", "c", 3)
	api := with(entry("ns", "api", 0), func(p *pipeline.Project) { p.Origin = pipeline.Origin{} })
	disabledB := with(b, func(p *pipeline.Project) { p.Disabled = true })
	tests := []struct {
		name          string
		stored, index []pipeline.Project
		want          Plan
	}{
		{name: "nothing", want: Plan{}},
		{name: "all new", index: []pipeline.Project{b, a},
			want: Plan{Put: []pipeline.Project{b, a}, Added: []string{"ns/a:latest", "ns/b:latest"}}},
		{name: "unchanged", stored: []pipeline.Project{a, b}, index: []pipeline.Project{a, b}, want: Plan{}},
		{name: "moved only", stored: []pipeline.Project{a},
			index: []pipeline.Project{with(a, func(p *pipeline.Project) { p.Origin.Line = 9 })},
			want:  Plan{Moved: []pipeline.Project{with(a, func(p *pipeline.Project) { p.Origin.Line = 9 })}}},
		{name: "changed, added, removed", stored: []pipeline.Project{a, b},
			index: []pipeline.Project{with(a, func(p *pipeline.Project) {
				p.GitBranch = "main"
				p.DependsOn = []pipeline.ImageRef{{Namespace: "x", Name: "y", Tag: "1"}}
			}), c},
			want: Plan{
				Put: []pipeline.Project{with(a, func(p *pipeline.Project) {
					p.GitBranch = "main"
					p.DependsOn = []pipeline.ImageRef{{Namespace: "x", Name: "y", Tag: "1"}}
				}), c},
				Changed: []pipeline.ProjectChange{{Key: "ns/a:latest", Fields: []pipeline.FieldChange{
					{Field: "git-branch", Old: "master", New: "main"},
					{Field: "depends-on", Old: "", New: "x/y:1"},
				}}},
				Added:   []string{"ns/c:latest"},
				Disable: []pipeline.Project{disabledB},
			}},
		{name: "already disabled stays", stored: []pipeline.Project{a, disabledB}, index: []pipeline.Project{a}, want: Plan{}},
		{name: "re-enabled", stored: []pipeline.Project{a, disabledB}, index: []pipeline.Project{a, b},
			want: Plan{Put: []pipeline.Project{b}, Added: []string{"ns/b:latest"}}},
		{name: "api projects untouched", stored: []pipeline.Project{api}, index: []pipeline.Project{a},
			want: Plan{Put: []pipeline.Project{a}, Added: []string{"ns/a:latest"}}},
		{name: "index entry with an api project's key", stored: []pipeline.Project{api},
			index: []pipeline.Project{with(api, func(p *pipeline.Project) { p.Origin.File = "index.d/ns.yaml" })},
			want:  Plan{Skipped: []string{"ns/api:latest"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.stored, tc.index)
			if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Diff mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestFieldsCoversEveryEntryField(t *testing.T) {
	old := entry("ns", "a", 1)
	next := pipeline.Project{ID: 2, AppID: "ns2", JobID: "b", Tag: "1", GitURL: "u", GitBranch: "br",
		GitPath: "p", TargetFile: "t", BuildContext: "c", PrebuildScript: "s", PrebuildContext: "pc",
		DependsOn: []pipeline.ImageRef{{Name: "d", Tag: "latest"}}, NotifyEmail: "e", NotifySuccess: true,
		Schedule: "@weekly", Origin: pipeline.Origin{File: "other", Line: 5}, Disabled: true}
	var names []string
	for _, f := range Fields(old, next) {
		names = append(names, f.Field)
	}
	want := []string{"id", "app-id", "job-id", "git-url", "git-branch", "git-path", "target-file",
		"desired-tag", "notify-email", "notify-success", "build-context", "depends-on",
		"prebuild-script", "prebuild-context", "schedule"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", d)
	}
}

func TestFieldsHideCredentials(t *testing.T) {
	old, next := entry("ns", "a", 1), entry("ns", "a", 1)
	old.GitURL, next.GitURL = "https://bot:0ld-s3cret@example.com/a.git", "https://bot:n3w-s3cret@example.com/a.git"
	want := []pipeline.FieldChange{{Field: "git-url", Old: "https://bot:***@example.com/a.git", New: "https://bot:***@example.com/a.git"}}
	if d := cmp.Diff(want, Fields(old, next)); d != "" {
		t.Errorf("a changed password (-want +got):\n%s", d)
	}
}
