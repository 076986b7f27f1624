package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/hoistci/hoist/internal/pipeline"
)

// buildLister is what listing a project's builds needs.
type buildLister interface {
	Project(ctx context.Context, key string) (pipeline.Project, error)
	BuildsBefore(ctx context.Context, project string, before, limit int) ([]pipeline.Build, error)
}

// apiListBuilds serves GET /api/v1/projects/{ns}/{name}/builds: the
// project's builds, newest first; ?limit=N (default 50, 0 for all), from
// below build number ?before=N (the "next" of the page before).
func apiListBuilds(store buildLister, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit, err := intParam(r, "limit", 50)
		var before int64
		if err == nil {
			before, err = intParam(r, "before", 0)
		}
		var p pipeline.Project
		if err == nil {
			p, err = findProject(r, store)
		}
		var builds []pipeline.Build
		var next string
		if err == nil {
			builds, next, err = buildsPage(r.Context(), store, p.Key(), int(before), int(limit))
		}
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		out := make([]*buildJSON, len(builds))
		for i, b := range builds {
			out[i] = toBuildJSON(b)
		}
		body := map[string]any{"builds": out}
		if next != "" {
			body["next"] = next
			setNext(w, r, "before", next)
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// buildsPage reads the page of project's builds below number before (0:
// from the newest), at most limit (0: all), and the cursor of the next
// page: the number of its last build, "" when no older build is left.
func buildsPage(ctx context.Context, store interface {
	BuildsBefore(ctx context.Context, project string, before, limit int) ([]pipeline.Build, error)
}, project string, before, limit int) ([]pipeline.Build, string, error) {
	ask := limit
	if limit > 0 {
		ask++ // one more tells whether there is a next page
	}
	builds, err := store.BuildsBefore(ctx, project, before, ask)
	if err != nil {
		return nil, "", fmt.Errorf("listing builds of %s: %w", project, err)
	}
	if limit <= 0 || len(builds) <= limit {
		return builds, "", nil
	}
	builds = builds[:limit]
	return builds, strconv.Itoa(builds[limit-1].Number), nil
}

// apiTriggerBuild serves POST /api/v1/projects/{ns}/{name}/builds: it
// queues a build caused "manual by <user>", or joins the one already
// queued; 202 with the build and "joined".
func apiTriggerBuild(q Queue, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := keyOf(r)
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		b, joined, err := trigger(r.Context(), q, key, "manual by "+userOf(r).Name, r.URL.Query().Get("force"))
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("project %s: %w", key, err))
			return
		}
		w.Header().Set("Location", fmt.Sprintf("/api/v1/builds/%d", b.ID))
		writeJSON(w, http.StatusAccepted, map[string]any{"build": toBuildJSON(b), "joined": joined})
	}
}

// buildFinder is what reading a build needs.
type buildFinder interface {
	Build(ctx context.Context, id int64) (pipeline.Build, error)
	Stages(ctx context.Context, buildID int64) ([]pipeline.Stage, error)
}

// findBuild returns the build {id} in r's path.
func findBuild(r *http.Request, store interface {
	Build(ctx context.Context, id int64) (pipeline.Build, error)
}) (pipeline.Build, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return pipeline.Build{}, &apiError{Status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("no build %q: build ids are positive integers", r.PathValue("id"))}
	}
	b, err := store.Build(r.Context(), id)
	if isNotFound(err) {
		return pipeline.Build{}, noBuild(id) // as readsBuild says it of a build not to be seen
	}
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("build %d: %w", id, err)
	}
	return b, nil
}

// apiCancelBuild serves POST /api/v1/builds/{id}/cancel: it stops a queued
// or running build; 409 when it has already finished.
func apiCancelBuild(q Queue, store buildFinder, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := findBuild(r, store)
		if err == nil {
			if err = q.Cancel(r.Context(), b.ID, userOf(r).Name); err != nil {
				err = fmt.Errorf("cancelling build %d (%s): %w", b.ID, b.Status, err)
			}
		}
		if err == nil {
			b, err = store.Build(r.Context(), b.ID)
		}
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"build": toBuildJSON(b)})
	}
}

// apiListImages serves GET /api/v1/images: delivered images, newest first.
func apiListImages(store pipeline.ImageStore, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		images, err := store.Images(r.Context())
		if err != nil {
			apiFail(log, w, r, fmt.Errorf("listing images: %w", err))
			return
		}
		out := make([]*imageJSON, len(images))
		for i, img := range images {
			out[i] = toImageJSON(img)
		}
		writeJSON(w, http.StatusOK, map[string]any{"images": out})
	}
}

// intParam reads the query parameter name, a non-negative integer.
func intParam(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: name,
			Message: fmt.Sprintf("query parameter %s=%q must be a non-negative integer", name, v)}
	}
	return n, nil
}
