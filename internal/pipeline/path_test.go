package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckWorkspace(t *testing.T) {
	root := t.TempDir()
	ws := filepath.Join(root, "ws")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(ws, "app"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A workspace reached through a symlink, as a data folder may be.
	link := filepath.Join(root, "link")
	if err := os.Symlink(ws, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(ws, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		spec BuildSpec
		bad  string // "" if the build is allowed, else what the error names
	}{
		{"no workspace", BuildSpec{ContextDir: outside}, ""},
		{"context is the workspace", BuildSpec{Workspace: ws, ContextDir: ws}, ""},
		{"context below, through a linked workspace", BuildSpec{Workspace: link, ContextDir: filepath.Join(ws, "app")}, ""},
		{"Dockerfile up a level, still inside", BuildSpec{Workspace: ws, ContextDir: filepath.Join(ws, "app"), Dockerfile: "../Dockerfile"}, ""},
		{"Dockerfile outside", BuildSpec{Workspace: ws, ContextDir: filepath.Join(ws, "app"), Dockerfile: "../../outside/Dockerfile"}, "Dockerfile"},
		{"context through a symlink leading out", BuildSpec{Workspace: ws, ContextDir: filepath.Join(ws, "escape")}, "build context"},
	} {
		err := c.spec.CheckWorkspace()
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s: %v; want it allowed", c.name, err)
		case c.bad != "" && (err == nil || !strings.HasPrefix(err.Error(), c.bad) || !strings.Contains(err.Error(), "keep the context and the Dockerfile inside the checkout")):
			t.Errorf("%s: %v; want the %s refused, saying how to fix it", c.name, err, c.bad)
		}
	}
	if rel, err := WorkspaceRel(link, filepath.Join(ws, "app", "build.sh")); err != nil || rel != "app/build.sh" {
		t.Errorf("WorkspaceRel = %q, %v; want app/build.sh", rel, err)
	}
}
