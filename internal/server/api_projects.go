package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// projectLister is what the project list needs.
type projectLister interface {
	Projects(ctx context.Context) ([]pipeline.Project, error)
	LastBuilds(ctx context.Context) (map[string]pipeline.Build, error)
	Images(ctx context.Context) ([]pipeline.DeliveredImage, error)
}

// apiListProjects serves GET /api/v1/projects: the projects with their
// last build and their delivered image, ordered by key; all of them, or
// ?limit=N a page at a time from ?after=KEY (the "next" of the page
// before). It reads the same whatever the length of the history: one
// index lookup per project for the last builds.
func apiListProjects(store projectLister, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		limit, err := intParam(r, "limit", 0)
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		ps, err := store.Projects(ctx)
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("listing projects: %w", err))
			return
		}
		ps, next := projectsAfter(ps, r.URL.Query().Get("after"), int(limit))
		last, err := store.LastBuilds(ctx)
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("listing last builds: %w", err))
			return
		}
		images, err := store.Images(ctx)
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("listing images: %w", err))
			return
		}
		byProject := imagesByProject(images)
		out := make([]*projectJSON, len(ps))
		for i, p := range ps {
			out[i] = toProjectJSON(p)
			if b, ok := last[p.Key()]; ok {
				out[i].LastBuild = toBuildJSON(b)
			}
			out[i].Delivered = deliveredOf(p, byProject[p.Key()])
		}
		body := map[string]any{"projects": out}
		if next != "" {
			body["next"] = next
			setNext(w, r, "after", next)
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// projectRequest is the body of POST and PATCH on projects. Absent fields
// are nil: defaults on POST, unchanged on PATCH.
type projectRequest struct {
	Name       *string  `json:"name"`
	RepoURL    *string  `json:"repo_url"`
	Branch     *string  `json:"branch"`
	Path       *string  `json:"path"`
	Dockerfile *string  `json:"dockerfile"`
	Context    *string  `json:"context"`
	Tag        *string  `json:"tag"`
	DependsOn  *depList `json:"depends_on"`
	Email      *string  `json:"email"`
}

// depList is depends_on: a JSON list of image references, or one string
// of them separated by commas or spaces.
type depList string

// UnmarshalJSON accepts a string, a list of strings or null.
func (d *depList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*d = depList(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return &FieldError{"depends_on", "must be a list of image references (namespace/name:tag) or one string of them separated by commas"}
	}
	*d = depList(strings.Join(list, ","))
	return nil
}

// apply sets the fields present in req on in.
func (req projectRequest) apply(in *ProjectInput) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.Name, req.Name)
	set(&in.RepoURL, req.RepoURL)
	set(&in.Branch, req.Branch)
	set(&in.Path, req.Path)
	set(&in.Dockerfile, req.Dockerfile)
	set(&in.Context, req.Context)
	set(&in.Tag, req.Tag)
	set(&in.Email, req.Email)
	if req.DependsOn != nil {
		in.DependsOn = string(*req.DependsOn)
	}
}

// apiRegisterProject serves POST /api/v1/projects: it registers the project
// and starts its first build; 201 with both.
func (s *Server) apiRegisterProject(w http.ResponseWriter, r *http.Request) {
	var req projectRequest
	if err := decodeJSON(w, r, &req); err != nil {
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	var in ProjectInput
	req.apply(&in)
	p, b, err := s.registerProject(r.Context(), in, userOf(r))
	if err != nil && p.JobID == "" { // not stored
		apiFail(s.deps.Logger, w, r, err)
		return
	}
	out := map[string]any{"project": toProjectJSON(p)}
	if err != nil {
		// Stored, but the first build could not be queued: say so.
		s.deps.Logger.Error("first build", "project", p.Key(), "err", err)
		out["error"] = toAPIError(err)
	} else {
		out["build"] = toBuildJSON(b)
	}
	w.Header().Set("Location", "/api/v1/projects/"+projectPath(p.Key()))
	writeJSON(w, http.StatusCreated, out)
}

// keyOf is the project key in r's path: {ns}/{name}, name maybe ":tag".
func keyOf(r *http.Request) (string, error) {
	s := r.PathValue("ns") + "/" + r.PathValue("name")
	ref, err := pipeline.ParseImageRef(s)
	if err != nil {
		return "", &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: fmt.Sprintf("no project %s: %v", s, err)}
	}
	return ref.String(), nil
}

// projectFinder is what reading one project needs.
type projectFinder interface {
	Project(ctx context.Context, key string) (pipeline.Project, error)
	Builds(ctx context.Context, project string, limit int) ([]pipeline.Build, error)
	Images(ctx context.Context) ([]pipeline.DeliveredImage, error)
}

// apiGetProject serves GET /api/v1/projects/{ns}/{name}.
func apiGetProject(store projectFinder, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := findProject(r, store)
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		out := toProjectJSON(p)
		builds, err := store.Builds(r.Context(), p.Key(), 1)
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("listing builds of %s: %w", p.Key(), err))
			return
		}
		if len(builds) > 0 {
			out.LastBuild = toBuildJSON(builds[0])
		}
		images, err := store.Images(r.Context())
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("listing images: %w", err))
			return
		}
		out.Delivered = deliveredOf(p, images)
		writeJSON(w, http.StatusOK, out)
	}
}

// findProject returns the project named in r's path.
func findProject(r *http.Request, store interface {
	Project(ctx context.Context, key string) (pipeline.Project, error)
}) (pipeline.Project, error) {
	key, err := keyOf(r)
	if err != nil {
		return pipeline.Project{}, err
	}
	p, err := store.Project(r.Context(), key)
	if errors.Is(err, pipeline.ErrNotFound) {
		return pipeline.Project{}, fmt.Errorf("no project %s: %w", key, pipeline.ErrNotFound)
	}
	if err != nil {
		return pipeline.Project{}, fmt.Errorf("project %s: %w", key, err)
	}
	return p, nil
}

// writable returns p's refusal when it comes from the index.
func writable(p pipeline.Project, verb string) error {
	if !p.FromIndex() {
		return nil
	}
	return fmt.Errorf("%w: cannot %s %s: it comes from the index (%s:%d), which is its source of truth; change the index instead",
		errReadOnly, verb, p.Key(), p.Origin.File, p.Origin.Line)
}

// apiPatchProject serves PATCH /api/v1/projects/{ns}/{name}: it changes the
// fields given; name and tag cannot change; a new repo_url must pass
// checkRepo.
//
// A branch cleared ("branch": "") is the repository's default branch, read
// from the remote as registration does (defaultBranch; nil: master).
func apiPatchProject(store pipeline.ProjectStore, checkRepo func(url string) error, defaultBranch func(ctx context.Context, url string) (string, error), log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		old, err := findProject(r, store)
		if err == nil {
			err = writable(old, "change")
		}
		var req projectRequest
		if err == nil {
			err = decodeJSON(w, r, &req)
		}
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		in := inputOf(old)
		req.apply(&in)
		if in.RepoURL == pipeline.RedactURL(old.GitURL) {
			in.RepoURL = old.GitURL // the URL as GET shows it, sent back: keep its credentials
		}
		p, errs := in.project()
		switch {
		case errs != nil:
			err = errs
		case p.Key() != old.Key():
			err = FieldErrors{{renamed(req), fmt.Sprintf("cannot change from %s to %s; register the new image as a project and delete this one", old.Key(), p.Key())}}
		case p.GitURL != old.GitURL && checkRepo(p.GitURL) != nil:
			err = checkRepo(p.GitURL)
		case strings.TrimSpace(in.Branch) == "" && defaultBranch != nil:
			p.GitBranch, err = defaultBranch(r.Context(), p.GitURL)
		}
		if err == nil {
			err = store.PutProject(r.Context(), p)
		}
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toProjectJSON(p))
	}
}

// projectRemover is what deleting a project needs.
type projectRemover interface {
	Project(ctx context.Context, key string) (pipeline.Project, error)
	DeleteProject(ctx context.Context, key string) error
}

// apiDeleteProject serves DELETE /api/v1/projects/{ns}/{name}; its builds,
// logs and images stay. 204.
func apiDeleteProject(store projectRemover, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := findProject(r, store)
		if err == nil {
			err = writable(p, "delete")
		}
		if err == nil {
			err = store.DeleteProject(r.Context(), p.Key())
		}
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		log.Info("project deleted", "project", p.Key(), "by", userOf(r).Name)
		w.WriteHeader(http.StatusNoContent)
	}
}

// renamed is the field a PATCH that changes the key changed.
func renamed(req projectRequest) string {
	if req.Tag != nil && req.Name == nil {
		return "tag"
	}
	return "name"
}
