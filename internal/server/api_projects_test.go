package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
)

type registered struct {
	Project projectJSON `json:"project"`
	Build   buildJSON   `json:"build"`
}

func TestAPIProjectLifecycle(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	var reg registered
	e.json("POST", "/api/v1/projects", `{"name":"ns/web","repo_url":"https://example.com/web.git",
		"path":"/docker/","depends_on":["centos/centos:7","base"],"email":"dev@example.com"}`, byToken, http.StatusCreated, &reg)
	p, b := reg.Project, reg.Build
	if p.Key != "ns/web:latest" || p.Branch != "master" || p.Path != "docker" || p.Dockerfile != "Dockerfile" ||
		p.Context != "." || p.ReadOnly || p.Origin != nil || p.URL != "/p/ns/web" {
		t.Errorf("registered project = %+v", p)
	}
	if diff := cmp.Diff([]string{"centos/centos:7", "base:latest"}, p.DependsOn); diff != "" {
		t.Errorf("depends_on (-want +got):\n%s", diff)
	}
	if b.Number != 1 || b.Status != pipeline.StatusQueued || b.Cause != "registered by alice" ||
		b.URL != "/p/ns/web/builds/1" || b.Created == nil || b.Started != nil {
		t.Errorf("first build = %+v", b)
	}

	var list struct{ Projects []projectJSON }
	e.json("GET", "/api/v1/projects", "", anon, http.StatusOK, &list)
	if len(list.Projects) != 1 || list.Projects[0].LastBuild == nil || list.Projects[0].LastBuild.ID != b.ID {
		t.Fatalf("list = %+v", list)
	}

	var got projectJSON
	e.json("GET", "/api/v1/projects/ns/web", "", anon, http.StatusOK, &got)
	e.json("GET", "/api/v1/projects/ns/web:latest", "", anon, http.StatusOK, &got)
	if got.RepoURL != "https://example.com/web.git" || got.LastBuild == nil {
		t.Errorf("got %+v", got)
	}

	e.json("PATCH", "/api/v1/projects/ns/web", `{"branch":"main","depends_on":"centos/centos:7, other/x:1"}`, byToken, http.StatusOK, &got)
	if got.Branch != "main" || got.Path != "docker" || len(got.DependsOn) != 2 || got.DependsOn[1] != "other/x:1" {
		t.Errorf("patched = %+v", got)
	}
	stored, err := e.store.Project(context.Background(), "ns/web:latest")
	if err != nil || stored.GitBranch != "main" {
		t.Errorf("stored after PATCH = %+v, %v", stored, err)
	}
	eb := e.apiErr("PATCH", "/api/v1/projects/ns/web", `{"tag":"2"}`, byToken, http.StatusUnprocessableEntity)
	if eb.Error.Field != "tag" || !strings.Contains(eb.Error.Message, "cannot change from ns/web:latest to ns/web:2") {
		t.Errorf("renaming by PATCH: %+v", eb)
	}
	eb = e.apiErr("PATCH", "/api/v1/projects/ns/web", `{"path":"../x"}`, byToken, http.StatusUnprocessableEntity)
	if eb.Error.Field != "path" {
		t.Errorf("bad PATCH: %+v", eb)
	}

	if status, body := e.do("DELETE", "/api/v1/projects/ns/web", "", byToken); status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", status, body)
	}
	e.apiErr("GET", "/api/v1/projects/ns/web", "", anon, http.StatusNotFound)
	e.apiErr("DELETE", "/api/v1/projects/ns/web", "", byToken, http.StatusNotFound)
	e.apiErr("GET", "/api/v1/projects/NS/x", "", anon, http.StatusNotFound)
}

func TestAPIRegisterLibraryAndTag(t *testing.T) {
	e := newAPIEnv(t, Options{})
	var reg registered
	e.json("POST", "/api/v1/projects", `{"name":"tools:1.0","repo_url":"https://example.com/t.git"}`, byToken, http.StatusCreated, &reg)
	if reg.Project.Key != "tools:1.0" || reg.Project.Namespace != "library" || reg.Build.URL != "/p/library/tools:1.0/builds/1" {
		t.Errorf("registered %+v, build %+v", reg.Project, reg.Build)
	}
	e.json("GET", "/api/v1/projects/library/tools:1.0", "", byToken, http.StatusOK, nil)
}

func TestAPIRegisterValidation(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	eb := e.apiErr("POST", "/api/v1/projects", `{"name":"Bad/x","repo_url":"-x","path":"../up","email":"nobody","depends_on":"a@sha256:1"}`,
		byToken, http.StatusUnprocessableEntity)
	if eb.Error.Code != "validation" || eb.Error.Field != "name" {
		t.Errorf("error = %+v", eb.Error)
	}
	var fields []string
	for _, f := range eb.Error.Fields {
		fields = append(fields, f.Field)
	}
	if diff := cmp.Diff([]string{"name", "repo_url", "path", "depends_on", "email"}, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s\n%+v", diff, eb.Error.Fields)
	}
	eb = e.apiErr("POST", "/api/v1/projects", `{}`, byToken, http.StatusUnprocessableEntity)
	if eb.Error.Field != "name" || !strings.Contains(eb.Error.Message, "repo_url is empty") {
		t.Errorf("empty input: %+v", eb.Error)
	}
	if ps, _ := e.store.Projects(context.Background()); len(ps) != 0 {
		t.Errorf("invalid input stored %v", ps)
	}

	e.putProject(pipeline.Project{AppID: "ns", JobID: "web", Tag: "latest", GitURL: "u", Origin: pipeline.Origin{File: "index.d/ns.yaml", Line: 3}})
	eb = e.apiErr("POST", "/api/v1/projects", `{"name":"ns/web","repo_url":"https://example.com/w.git"}`, byToken, http.StatusConflict)
	if eb.Error.Field != "name" || !strings.Contains(eb.Error.Message, "index.d/ns.yaml:3") {
		t.Errorf("existing: %+v", eb.Error)
	}
	e.json("POST", "/api/v1/projects", `{"name":"ns/web","tag":"2","repo_url":"https://example.com/w.git"}`, byToken, http.StatusCreated, nil)
	eb = e.apiErr("POST", "/api/v1/projects", `{"name":"ns/web","tag":"2","repo_url":"https://example.com/w.git"}`, byToken, http.StatusConflict)
	if eb.Error.Field != "tag" {
		t.Errorf("existing tag: %+v", eb.Error)
	}
}

func TestRegisterProjectForTheUI(t *testing.T) {
	e := newAPIEnv(t, Options{})
	_, _, err := e.server.registerProject(context.Background(), ProjectInput{Name: "x/y"}, pipeline.User{Name: "bob", Admin: true})
	var fes FieldErrors
	if !errors.As(err, &fes) || fes.Get("repo_url") == "" {
		t.Fatalf("err = %v", err)
	}
	p, b, err := e.server.registerProject(context.Background(), ProjectInput{Name: "x/y", RepoURL: "https://e.com/y"}, pipeline.User{Name: "bob", Admin: true})
	if err != nil || p.Key() != "x/y:latest" || p.FromIndex() || b.Cause != "registered by bob" {
		t.Fatalf("registerProject = %+v, %+v, %v", p, b, err)
	}
	_, _, err = e.server.registerProject(context.Background(), ProjectInput{Name: "x/y", RepoURL: "https://e.com/y"}, pipeline.User{Name: "bob", Admin: true})
	if !errors.Is(err, pipeline.ErrExists) || !errors.As(err, &fes) || fes.Get("name") == "" {
		t.Fatalf("again: %v", err)
	}
}

func TestAPIIndexProjectsAreReadOnly(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	p := testProject("idx", "web")
	p.Origin = pipeline.Origin{File: "index.d/idx.yaml", Line: 2}
	e.putProject(p)
	for _, m := range []string{"PATCH", "DELETE"} {
		eb := e.apiErr(m, "/api/v1/projects/idx/web", `{"branch":"dev"}`, byToken, http.StatusConflict)
		if eb.Error.Code != "conflict" || !strings.Contains(eb.Error.Message, "index (index.d/idx.yaml:2), which is its source of truth") {
			t.Errorf("%s: %+v", m, eb.Error)
		}
	}
	got, err := e.store.Project(context.Background(), p.Key())
	if err != nil || got.GitBranch != "master" {
		t.Errorf("stored = %+v, %v", got, err)
	}
	var pj projectJSON
	e.json("GET", "/api/v1/projects/idx/web", "", anon, http.StatusOK, &pj)
	if !pj.ReadOnly || pj.Origin == nil || pj.Origin.File != "index.d/idx.yaml" {
		t.Errorf("project = %+v", pj)
	}
	// Building it is fine: the index owns its definition, not its builds.
	e.json("POST", "/api/v1/projects/idx/web/builds", "", byToken, http.StatusAccepted, nil)
}

func TestAPIImages(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	p := e.putProject(testProject("ns", "web"))
	now := time.Now()
	for i, tag := range []string{"rc", "latest"} {
		img := pipeline.DeliveredImage{Image: "127.0.0.1:5000/ns/web:" + tag, Project: p.Key(), Digest: "sha256:aa",
			BuildID: 1, Delivered: now.Add(time.Duration(i) * time.Second)}
		if err := e.store.RecordImage(context.Background(), img); err != nil {
			t.Fatal(err)
		}
	}
	var images struct{ Images []imageJSON }
	e.json("GET", "/api/v1/images", "", anon, http.StatusOK, &images)
	if len(images.Images) != 2 || images.Images[0].Digest != "sha256:aa" || images.Images[0].Delivered == nil {
		t.Errorf("images = %+v", images)
	}
	var pj projectJSON
	e.json("GET", "/api/v1/projects/ns/web", "", anon, http.StatusOK, &pj)
	if pj.Delivered == nil || pj.Delivered.Image != "127.0.0.1:5000/ns/web:latest" {
		t.Errorf("delivered = %+v", pj.Delivered)
	}
}

func TestProjectInputNames(t *testing.T) {
	tests := []struct {
		in              ProjectInput
		key, field, msg string
	}{
		{ProjectInput{Name: "ns/web"}, "ns/web:latest", "", ""},
		{ProjectInput{Name: "web", Tag: "7"}, "web:7", "", ""},
		{ProjectInput{Name: "library/web:7", Tag: "7"}, "web:7", "", ""},
		{ProjectInput{Name: "ns/web:7", Tag: "8"}, "", "name", `"ns/web:7" carries the tag "7" but tag is "8"`},
		{ProjectInput{Name: "reg.io/ns/web"}, "", "name", `"reg.io/ns/web" has too many parts`},
		{ProjectInput{Name: "ns/"}, "", "name", "is empty; give the image's name"},
		{ProjectInput{Name: "ns/web", Tag: "-x"}, "", "tag", `"-x" is not a valid tag`},
	}
	for _, tt := range tests {
		tt.in.RepoURL = "https://example.com/r.git"
		p, errs := tt.in.project()
		switch {
		case tt.field == "" && (errs != nil || p.Key() != tt.key):
			t.Errorf("%+v: %s, %v; want %s", tt.in, p.Key(), errs, tt.key)
		case tt.field != "" && (len(errs) != 1 || errs[0].Field != tt.field || !strings.Contains(errs[0].Message, tt.msg)):
			t.Errorf("%+v: errors %v; want %s %q", tt.in, errs, tt.field, tt.msg)
		}
	}
}
