package storetest

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// project is a minimal project ns/name:latest.
func project(ns, name string) pipeline.Project {
	return pipeline.Project{
		AppID: ns, JobID: name, Tag: pipeline.DefaultTag,
		GitURL: "https://example.com/" + ns + "/" + name + ".git", GitBranch: "master",
		GitPath: ".", TargetFile: "Dockerfile", BuildContext: ".",
	}
}

// fullProject has every field set, depends-on and origin included.
func fullProject() pipeline.Project {
	return pipeline.Project{
		ID: 7, AppID: "centos", JobID: "httpd", Tag: "2.4",
		GitURL: "https://example.com/httpd.git", GitBranch: "stable", GitPath: "docker/httpd",
		TargetFile: "Dockerfile.centos", BuildContext: "../", NotifyEmail: "ops@example.com", Schedule: "@weekly",
		PrebuildScript: "hack/prebuild.sh", PrebuildContext: "hack",
		DependsOn: []pipeline.ImageRef{
			{Namespace: "centos", Name: "base", Tag: "7"},
			{Name: "busybox", Tag: "latest"},
		},
		Origin: pipeline.Origin{File: "index.d/centos.yaml", Line: 42},
	}
}

func testProjectRoundTrip(t *testing.T, s pipeline.Store) {
	for _, want := range []pipeline.Project{fullProject(), project("library", "plain")} {
		must(t, "PutProject", s.PutProject(ctx(t), want))
		got, err := s.Project(ctx(t), want.Key())
		must(t, "Project", err)
		if d := diff(want, got); d != "" {
			t.Errorf("Project(%q) mismatch (-want +got):\n%s", want.Key(), d)
		}
	}
}

func testProjectReplace(t *testing.T, s pipeline.Store) {
	p := fullProject()
	must(t, "PutProject", s.PutProject(ctx(t), p))
	p.GitBranch, p.DependsOn = "main", nil
	p.Origin = pipeline.Origin{}
	must(t, "PutProject again", s.PutProject(ctx(t), p))
	got, err := s.Project(ctx(t), p.Key())
	must(t, "Project", err)
	if d := diff(p, got); d != "" {
		t.Errorf("replaced project mismatch (-want +got):\n%s", d)
	}
	all, err := s.Projects(ctx(t))
	must(t, "Projects", err)
	if len(all) != 1 {
		t.Errorf("Projects after a replace: %d projects, want 1", len(all))
	}
}

func testProjectList(t *testing.T, s pipeline.Store) {
	got, err := s.Projects(ctx(t))
	must(t, "Projects of an empty store", err)
	if len(got) != 0 {
		t.Errorf("Projects of an empty store: %d, want 0", len(got))
	}
	ps := []pipeline.Project{project("b", "x"), project("a", "z"), project("c", "a"), project("a", "y")}
	for _, p := range ps {
		must(t, "PutProject", s.PutProject(ctx(t), p))
	}
	got, err = s.Projects(ctx(t))
	must(t, "Projects", err)
	var keys []string
	for _, p := range got {
		keys = append(keys, p.Key())
	}
	want := []string{"a/y:latest", "a/z:latest", "b/x:latest", "c/a:latest"}
	if d := diff(want, keys); d != "" {
		t.Errorf("Projects keys (-want +got):\n%s", d)
	}
}

func testProjectNotFound(t *testing.T, s pipeline.Store) {
	must(t, "PutProject", s.PutProject(ctx(t), project("a", "b")))
	_, err := s.Project(ctx(t), "a/missing:latest")
	mustNotFound(t, "Project of a missing key", err)
}

func testProjectDelete(t *testing.T, s pipeline.Store) {
	gone, kept := project("a", "gone"), project("a", "kept")
	must(t, "PutProject", s.PutProject(ctx(t), gone))
	must(t, "PutProject", s.PutProject(ctx(t), kept))
	b := create(t, s, gone.Key())
	must(t, "AppendLog", s.AppendLog(ctx(t), b.ID, pipeline.StageBuild, []byte("log")))
	img := pipeline.DeliveredImage{Image: "reg/a/gone:latest", Project: gone.Key(), BuildID: b.ID, Delivered: at(1, 0)}
	must(t, "RecordImage", s.RecordImage(ctx(t), img))

	must(t, "DeleteProject", s.DeleteProject(ctx(t), gone.Key()))
	_, err := s.Project(ctx(t), gone.Key())
	mustNotFound(t, "Project after DeleteProject", err)
	if _, err := s.Project(ctx(t), kept.Key()); err != nil {
		t.Errorf("the other project after DeleteProject: %v", err)
	}
	mustNotFound(t, "DeleteProject again", s.DeleteProject(ctx(t), gone.Key()))

	if _, err := s.Build(ctx(t), b.ID); err != nil {
		t.Errorf("build of a deleted project: %v", err)
	}
	if got := string(readLog(t, s, b.ID, pipeline.StageBuild, 0)); got != "log" {
		t.Errorf("log of a deleted project's build = %q, want %q", got, "log")
	}
	imgs, err := s.Images(ctx(t))
	must(t, "Images", err)
	if len(imgs) != 1 {
		t.Errorf("images after DeleteProject: %d, want 1", len(imgs))
	}
}
