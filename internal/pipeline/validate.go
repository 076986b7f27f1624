package pipeline

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// The fields of a project, named as the cccp index names them, for
// FieldProblem.Field.
const (
	FieldAppID           = "app-id"
	FieldJobID           = "job-id"
	FieldTag             = "desired-tag"
	FieldGitURL          = "git-url"
	FieldGitBranch       = "git-branch"
	FieldGitPath         = "git-path"
	FieldTargetFile      = "target-file"
	FieldBuildContext    = "build-context"
	FieldPrebuildScript  = "prebuild-script"
	FieldPrebuildContext = "prebuild-context"
	FieldDependsOn       = "depends-on"
	FieldNotifyEmail     = "notify-email"
)

// FieldProblem is something wrong with one field of a project. Message
// says what to change and does not repeat the field's name, so that a form
// can show it next to the field.
type FieldProblem struct {
	Field   string // one of the Field constants
	Message string
}

// The allowed forms, said the same way in every message.
const (
	nameRule = `use lowercase letters and digits, separated by ".", "_", "__" or "-"`
	tagRule  = `use up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"`
)

// remoteHelper matches git's "transport::address" syntax, which runs a
// helper program ("ext::sh -c …") instead of fetching.
var remoteHelper = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*::`)

// ValidateProject checks a project that is not read from an index (one a
// user registers through the API or the UI) and returns every problem,
// in the order of the fields. Paths may be given as users write them
// ("/" for the root, "docker/"); defaults must already be filled in.
func ValidateProject(p Project) []FieldProblem {
	var v validator
	v.names(p)
	v.git(p)
	v.paths(p)
	v.prebuild(p)
	v.dependsOn(p)
	if p.NotifyEmail != "" && (!strings.Contains(p.NotifyEmail, "@") || strings.ContainsAny(p.NotifyEmail, " \t\r\n,;<>")) {
		v.add(FieldNotifyEmail, "%q does not look like an email address; give one address, like dev@example.com", p.NotifyEmail)
	}
	return v.problems
}

type validator struct{ problems []FieldProblem }

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) names(p Project) {
	switch {
	case p.AppID == "":
		v.add(FieldAppID, "is empty; give a namespace, or %q for images without one", LibraryNamespace)
	case !ValidName(p.AppID):
		v.add(FieldAppID, "%q is not a valid namespace; %s", p.AppID, nameRule)
	}
	switch {
	case p.JobID == "":
		v.add(FieldJobID, "is empty; give the image's name")
	case !ValidName(p.JobID):
		v.add(FieldJobID, "%q is not a valid image name; %s", p.JobID, nameRule)
	}
	if !ValidTag(p.Tag) {
		v.add(FieldTag, "%q is not a valid tag; %s", p.Tag, tagRule)
	}
}

func (v *validator) git(p Project) {
	u := p.GitURL
	switch {
	case u == "":
		v.add(FieldGitURL, "is empty; give the repository to build, e.g. https://github.com/user/repo")
	case strings.HasPrefix(u, "-"):
		v.add(FieldGitURL, "%q must not start with \"-\" (git would read it as an option)", RedactURL(u))
	case hasSpaceOrControl(u):
		v.add(FieldGitURL, "%q contains spaces or control characters; give the repository's URL", RedactURL(u))
	case remoteHelper.MatchString(u):
		v.add(FieldGitURL, "%q uses a git remote helper (transport::address), which is not allowed; give an https://, ssh:// or git:// URL", RedactURL(u))
	}
	b := p.GitBranch
	switch {
	case b == "":
		v.add(FieldGitBranch, "is empty; give a branch, tag or commit (master if unsure)")
	case strings.HasPrefix(b, "-"):
		v.add(FieldGitBranch, "%q must not start with \"-\" (git would read it as an option)", b)
	case hasSpaceOrControl(b):
		v.add(FieldGitBranch, "%q is not a valid branch, tag or commit: it contains spaces or control characters", b)
	}
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// paths checks git-path, and target-file and build-context relative to it.
func (v *validator) paths(p Project) {
	gitPath, err := CleanRel(p.GitPath)
	if err != nil {
		v.add(FieldGitPath, "%q escapes the repository; give a folder inside it, \"/\" for the root", p.GitPath)
	}
	v.underGitPath(FieldTargetFile, p.TargetFile, gitPath, err == nil, true)
	v.underGitPath(FieldBuildContext, p.BuildContext, gitPath, err == nil, false)
}

func (v *validator) underGitPath(field, s, gitPath string, gitPathOK, file bool) {
	c := path.Clean(s)
	switch {
	case s == "" && file:
		v.add(field, "is empty; give the file to build, relative to the git path (usually Dockerfile)")
	case s == "":
		v.add(field, "is empty; give a folder relative to the git path (\"./\" for the git path itself)")
	case strings.HasPrefix(s, "/"):
		v.add(field, "%q must be relative to the git path %q, not start with \"/\"", s, slashed(gitPath))
	case file && (c == "." || strings.HasSuffix(s, "/") || c == ".." || strings.HasSuffix(c, "/..")):
		v.add(field, "%q must name a file, not a folder", s)
	case gitPathOK:
		if _, err := JoinRel(gitPath, s); err != nil {
			v.add(field, "%q escapes the repository: it is relative to the git path %q; give a path that stays inside", s, slashed(gitPath))
		}
	}
}

// slashed shows a cleaned repository path the way users write it.
func slashed(p string) string {
	if p == "." || p == "" {
		return "/"
	}
	return p + "/"
}

// prebuild checks prebuild-script and prebuild-context: both or neither,
// relative to the repository root.
func (v *validator) prebuild(p Project) {
	script, dir := p.PrebuildScript, p.PrebuildContext
	switch {
	case script != "" && dir == "":
		v.add(FieldPrebuildContext, "is needed with a prebuild script: the folder to run it in, relative to the repository root (\"/\" for the root)")
	case dir != "" && script == "":
		v.add(FieldPrebuildScript, "is needed when a prebuild context is set; give the script, relative to the repository root, or remove the context")
	}
	if script != "" {
		if c, err := CleanRel(script); err != nil {
			v.add(FieldPrebuildScript, "%q escapes the repository; it is relative to the repository root", script)
		} else if c == "." || strings.HasSuffix(script, "/") {
			v.add(FieldPrebuildScript, "%q must name a file, not a folder", script)
		}
	}
	if _, err := CleanRel(dir); dir != "" && err != nil {
		v.add(FieldPrebuildContext, "%q escapes the repository; it is relative to the repository root", dir)
	}
}

func (v *validator) dependsOn(p Project) {
	self := p.Image()
	for _, d := range p.DependsOn {
		switch {
		case !ValidName(d.Name) || (d.Namespace != "" && !ValidName(d.Namespace)) || !ValidTag(d.Tag):
			v.add(FieldDependsOn, "%q is not a valid image reference; give namespace/name:tag", d.String())
		case d == self:
			v.add(FieldDependsOn, "names this project's own image %s; an image cannot be built from itself", d)
		}
	}
}
