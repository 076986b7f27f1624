package server

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// ProjectInput is a project as a user registers or edits it, in the API
// (JSON, below) and in the web form. Empty fields take the cccp index's
// defaults: tag latest, branch master, path "/", dockerfile Dockerfile,
// context "./"; but a project registered without a branch gets the
// repository's default branch when the server can read it (Deps.Branches).
type ProjectInput struct {
	Name       string `json:"name"`       // "ns/name", or "name" in the library namespace
	RepoURL    string `json:"repo_url"`   // the git repository
	Branch     string `json:"branch"`     // branch, tag or commit
	Path       string `json:"path"`       // folder of the Dockerfile in the repository
	Dockerfile string `json:"dockerfile"` // relative to Path
	Context    string `json:"context"`    // build context, relative to Path
	Tag        string `json:"tag"`        // the delivered tag
	DependsOn  string `json:"depends_on"` // image references, separated by commas or spaces
	Email      string `json:"email"`      // who hears of failures
}

// FieldError is a problem with one field of a ProjectInput. Field is the
// input's JSON name (name, repo_url, …); Message says what to change and
// reads well after the field's name.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *FieldError) Error() string { return e.Field + " " + e.Message }

// FieldErrors are all the problems of one input at once.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i := range e {
		msgs[i] = e[i].Error()
	}
	return strings.Join(msgs, "; ")
}

// Get returns the message for field, or "".
func (e FieldErrors) Get(field string) string {
	for _, fe := range e {
		if fe.Field == field {
			return fe.Message
		}
	}
	return ""
}

// inputField names pipeline's project fields as ProjectInput does.
var inputField = map[string]string{
	pipeline.FieldAppID:           "name",
	pipeline.FieldJobID:           "name",
	pipeline.FieldTag:             "tag",
	pipeline.FieldGitURL:          "repo_url",
	pipeline.FieldGitBranch:       "branch",
	pipeline.FieldGitPath:         "path",
	pipeline.FieldTargetFile:      "dockerfile",
	pipeline.FieldBuildContext:    "context",
	pipeline.FieldDependsOn:       "depends_on",
	pipeline.FieldNotifyEmail:     "email",
	pipeline.FieldPrebuildScript:  "prebuild_script",
	pipeline.FieldPrebuildContext: "prebuild_context",
}

// inputOrder is the order of ProjectInput's fields, for listing problems.
var inputOrder = []string{"name", "repo_url", "branch", "path", "dockerfile", "context", "tag", "depends_on", "email"}

// project turns in into a project with its defaults filled in and its
// paths cleaned, or returns every problem with it.
func (in ProjectInput) project() (pipeline.Project, FieldErrors) {
	var errs FieldErrors
	p := pipeline.Project{
		Tag:          orDefault(in.Tag, pipeline.DefaultTag),
		GitURL:       strings.TrimSpace(in.RepoURL),
		GitBranch:    orDefault(in.Branch, "master"),
		GitPath:      orDefault(in.Path, "/"),
		TargetFile:   orDefault(in.Dockerfile, "Dockerfile"),
		BuildContext: orDefault(in.Context, "./"),
		NotifyEmail:  strings.TrimSpace(in.Email),
	}
	p.AppID, p.JobID, p.Tag, errs = in.image(p.Tag)
	for _, d := range splitList(in.DependsOn) {
		ref, err := pipeline.ParseImageRef(d)
		if err != nil {
			errs = append(errs, FieldError{"depends_on", err.Error()})
			continue
		}
		p.DependsOn = append(p.DependsOn, ref)
	}
	nameBad := errs.Get("name") != ""
	for _, fp := range pipeline.ValidateProject(p) {
		field := inputField[fp.Field]
		if field == "name" && nameBad {
			continue // the name could not be split; its parts say nothing more
		}
		errs = append(errs, FieldError{Field: field, Message: fp.Message})
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b FieldError) int {
			return slices.Index(inputOrder, a.Field) - slices.Index(inputOrder, b.Field)
		})
		return pipeline.Project{}, errs
	}
	p.GitPath, _ = pipeline.CleanRel(p.GitPath)
	p.TargetFile, p.BuildContext = path.Clean(p.TargetFile), path.Clean(p.BuildContext)
	return p, nil
}

// image splits in.Name, "ns/name", "name" or either with ":tag", into
// the project's app-id, job-id and tag (tag when the name has none).
func (in ProjectInput) image(tag string) (appID, jobID, outTag string, errs FieldErrors) {
	name := strings.TrimSpace(in.Name)
	if repo, t, ok := strings.Cut(name, ":"); ok {
		switch {
		case strings.TrimSpace(in.Tag) == "":
			name, tag = repo, t
		case t != tag:
			errs = append(errs, FieldError{"name", fmt.Sprintf("%q carries the tag %q but tag is %q; give the tag in one place", in.Name, t, tag)})
		default:
			name = repo
		}
	}
	switch parts := strings.Split(name, "/"); {
	case name == "":
		errs = append(errs, FieldError{"name", `is empty; give "namespace/name", or "name" for an image without a namespace`})
	case len(parts) > 2:
		errs = append(errs, FieldError{"name", fmt.Sprintf("%q has too many parts; give \"namespace/name\" or \"name\", without a registry host", name)})
	case len(parts) == 1:
		appID, jobID = pipeline.LibraryNamespace, parts[0]
	default:
		appID, jobID = parts[0], parts[1]
	}
	return appID, jobID, tag, errs
}

// orDefault is s trimmed, or def when that is empty.
func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s != "" {
		return s
	}
	return def
}

// splitList splits a list written with commas and/or spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// inputOf is p as a ProjectInput, for editing it.
func inputOf(p pipeline.Project) ProjectInput {
	deps := make([]string, len(p.DependsOn))
	for i, d := range p.DependsOn {
		deps[i] = d.String()
	}
	return ProjectInput{
		Name: p.AppID + "/" + p.JobID, RepoURL: p.GitURL, Branch: p.GitBranch,
		Path: displayPath(p.GitPath), Dockerfile: p.TargetFile, Context: p.BuildContext,
		Tag: p.Tag, DependsOn: strings.Join(deps, ", "), Email: p.NotifyEmail,
	}
}

// displayPath shows a cleaned repository path the way users write it.
func displayPath(p string) string {
	if p == "." || p == "" {
		return "/"
	}
	return p
}

// registerProject validates in, stores it as a project registered by the
// API or UI and starts its first build, caused "registered by <user>".
// Problems with in are FieldErrors; an image that is already a project is
// a FieldErrors on name (or tag) that also matches pipeline.ErrExists.
func (s *Server) registerProject(ctx context.Context, in ProjectInput, by pipeline.User) (pipeline.Project, pipeline.Build, error) {
	p, errs := in.project()
	if errs != nil {
		return pipeline.Project{}, pipeline.Build{}, errs
	}
	key := p.Key()
	switch old, err := s.deps.Store.Project(ctx, key); {
	case err == nil:
		return pipeline.Project{}, pipeline.Build{}, fmt.Errorf("%w: %w", pipeline.ErrExists, existsError(in, old))
	case !isNotFound(err):
		return pipeline.Project{}, pipeline.Build{}, fmt.Errorf("looking up %s: %w", key, err)
	}
	if strings.TrimSpace(in.Branch) == "" && s.deps.Branches != nil {
		branch, err := s.defaultBranch(ctx, p.GitURL)
		if err != nil {
			return pipeline.Project{}, pipeline.Build{}, err
		}
		p.GitBranch = branch
	}
	if err := s.deps.Store.PutProject(ctx, p); err != nil {
		return pipeline.Project{}, pipeline.Build{}, fmt.Errorf("storing %s: %w", key, err)
	}
	s.deps.Logger.Info("project registered", "project", key, "by", by.Name)
	b, _, err := s.deps.Queue.Trigger(ctx, key, "registered by "+by.Name)
	if err != nil {
		return p, pipeline.Build{}, fmt.Errorf("starting the first build of %s: %w", key, err)
	}
	return p, b, nil
}

// defaultBranchTimeout bounds reading a repository's default branch.
const defaultBranchTimeout = 30 * time.Second

// defaultBranch reads the default branch of the repository at url, as
// `git clone` would check it out; a failure is a FieldErrors on repo_url.
func (s *Server) defaultBranch(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultBranchTimeout)
	defer cancel()
	branch, err := s.deps.Branches.DefaultBranch(ctx, url)
	if err != nil {
		return "", FieldErrors{{"repo_url", fmt.Sprintf("could not be read to find its default branch: %v; check the URL, or give the branch", err)}}
	}
	return branch, nil
}

// existsError says that old already builds the image in asks for.
func existsError(in ProjectInput, old pipeline.Project) FieldErrors {
	field, how := "name", "choose another name or tag"
	if strings.TrimSpace(in.Tag) != "" {
		field = "tag"
	}
	from := "registered in Hoist"
	if old.FromIndex() {
		from = fmt.Sprintf("from the index (%s:%d)", old.Origin.File, old.Origin.Line)
	}
	return FieldErrors{{field, fmt.Sprintf("is taken: the image %s is already a project, %s; %s", old.Key(), from, how)}}
}
