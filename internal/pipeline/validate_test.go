package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validProject() Project {
	return Project{AppID: "ns", JobID: "web", Tag: "latest", GitURL: "https://example.com/r.git",
		GitBranch: "master", GitPath: "/", TargetFile: "Dockerfile", BuildContext: "./"}
}

func TestValidateProject(t *testing.T) {
	base, _ := ParseImageRef("centos/centos:7")
	tests := []struct {
		name   string
		change func(p *Project)
		want   []FieldProblem
	}{
		{"valid", func(p *Project) {}, nil},
		{"valid sub-folder and climbing context", func(p *Project) {
			p.GitPath, p.TargetFile, p.BuildContext, p.DependsOn = "/10.0/", "docker/Dockerfile", "../", []ImageRef{base}
		}, nil},
		{"valid library namespace and prebuild", func(p *Project) {
			p.AppID, p.PrebuildScript, p.PrebuildContext, p.NotifyEmail = LibraryNamespace, "build.sh", "/", "dev@example.com"
		}, nil},
		{"empty names", func(p *Project) { p.AppID, p.JobID, p.GitURL, p.GitBranch = "", "", "", "" }, []FieldProblem{
			{FieldAppID, `is empty; give a namespace, or "library" for images without one`},
			{FieldJobID, "is empty; give the image's name"},
			{FieldGitURL, "is empty; give the repository to build, e.g. https://github.com/user/repo"},
			{FieldGitBranch, "is empty; give a branch, tag or commit (master if unsure)"},
		}},
		{"bad names", func(p *Project) { p.AppID, p.JobID, p.Tag = "My", "-web", ".x" }, []FieldProblem{
			{FieldAppID, `"My" is not a valid namespace; use lowercase letters and digits, separated by ".", "_", "__" or "-"`},
			{FieldJobID, `"-web" is not a valid image name; use lowercase letters and digits, separated by ".", "_", "__" or "-"`},
			{FieldTag, `".x" is not a valid tag; use up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"`},
		}},
		{"git options and helpers", func(p *Project) { p.GitURL, p.GitBranch = "-oProxyCommand=x", "a b" }, []FieldProblem{
			{FieldGitURL, `"-oProxyCommand=x" must not start with "-" (git would read it as an option)`},
			{FieldGitBranch, `"a b" is not a valid branch, tag or commit: it contains spaces or control characters`},
		}},
		{"remote helper", func(p *Project) { p.GitURL = "ext::sh -c touch% /tmp/x" }, []FieldProblem{
			{FieldGitURL, `"ext::sh -c touch% /tmp/x" contains spaces or control characters; give the repository's URL`},
		}},
		{"credentials hidden", func(p *Project) { p.GitURL = "https://bot:s3cret@example.com/a b.git" }, []FieldProblem{
			{FieldGitURL, `"https://bot:***@example.com/a b.git" contains spaces or control characters; give the repository's URL`},
		}},
		{"remote helper without spaces", func(p *Project) { p.GitURL = "fd::0" }, []FieldProblem{
			{FieldGitURL, `"fd::0" uses a git remote helper (transport::address), which is not allowed; give an https://, ssh:// or git:// URL`},
		}},
		{"escaping paths", func(p *Project) { p.GitPath, p.TargetFile, p.BuildContext = "docker", "../../Dockerfile", "/" }, []FieldProblem{
			{FieldTargetFile, `"../../Dockerfile" escapes the repository: it is relative to the git path "docker/"; give a path that stays inside`},
			{FieldBuildContext, `"/" must be relative to the git path "docker/", not start with "/"`},
		}},
		{"git-path escapes", func(p *Project) { p.GitPath, p.TargetFile = "../x", "dir/" }, []FieldProblem{
			{FieldGitPath, `"../x" escapes the repository; give a folder inside it, "/" for the root`},
			{FieldTargetFile, `"dir/" must name a file, not a folder`},
		}},
		{"empty paths", func(p *Project) { p.TargetFile, p.BuildContext = "", "" }, []FieldProblem{
			{FieldTargetFile, "is empty; give the file to build, relative to the git path (usually Dockerfile)"},
			{FieldBuildContext, `is empty; give a folder relative to the git path ("./" for the git path itself)`},
		}},
		{"prebuild half", func(p *Project) { p.PrebuildScript = "../x.sh" }, []FieldProblem{
			{FieldPrebuildContext, `is needed with a prebuild script: the folder to run it in, relative to the repository root ("/" for the root)`},
			{FieldPrebuildScript, `"../x.sh" escapes the repository; it is relative to the repository root`},
		}},
		{"prebuild context alone", func(p *Project) { p.PrebuildContext = "/.." }, []FieldProblem{
			{FieldPrebuildScript, "is needed when a prebuild context is set; give the script, relative to the repository root, or remove the context"},
			{FieldPrebuildContext, `"/.." escapes the repository; it is relative to the repository root`},
		}},
		{"depends on itself", func(p *Project) { p.DependsOn = []ImageRef{base, {Namespace: "ns", Name: "web", Tag: "latest"}} }, []FieldProblem{
			{FieldDependsOn, "names this project's own image ns/web:latest; an image cannot be built from itself"},
		}},
		{"bad depends-on ref", func(p *Project) { p.DependsOn = []ImageRef{{Name: "Bad", Tag: "1"}} }, []FieldProblem{
			{FieldDependsOn, `"Bad:1" is not a valid image reference; give namespace/name:tag`},
		}},
		{"email", func(p *Project) { p.NotifyEmail = "nobody" }, []FieldProblem{
			{FieldNotifyEmail, `"nobody" does not look like an email address; give one address, like dev@example.com`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validProject()
			tt.change(&p)
			if diff := cmp.Diff(tt.want, ValidateProject(p)); diff != "" {
				t.Errorf("ValidateProject (-want +got):\n%s", diff)
			}
		})
	}
}
