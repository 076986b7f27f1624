package pipeline

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CleanRel cleans a repository-relative path: "/" and "" become ".", a
// leading "/" is dropped (upstream's git-path "/docker" means "docker"). It
// returns an error when the path climbs above the root ("..").
func CleanRel(p string) (string, error) {
	c := path.Clean("/" + strings.TrimLeft(p, "/"))
	// path.Clean of a rooted path never climbs; compare with the unrooted form.
	u := path.Clean(strings.TrimLeft(p, "/"))
	if u == ".." || strings.HasPrefix(u, "../") {
		return "", fmt.Errorf("%q escapes the repository", p)
	}
	if c == "/" {
		return ".", nil
	}
	return strings.TrimPrefix(c, "/"), nil
}

// JoinRel joins a repository-relative base with a path relative to it, and
// returns an error when the result leaves the repository ("docker" + "../../x").
func JoinRel(base, rel string) (string, error) {
	j := path.Clean(path.Join(base, rel))
	if j == ".." || strings.HasPrefix(j, "../") || path.IsAbs(rel) {
		return "", fmt.Errorf("%q from %q escapes the repository", rel, base)
	}
	return j, nil
}

// SafeJoin returns root/rel after resolving every symlink on the way, and an
// error when the result lies outside root (through ".." or a symlink). root
// must be an absolute path to an existing folder. A missing final element is
// allowed: the returned path is then where it would be.
func SafeJoin(root, rel string) (string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", root, err)
	}
	full := filepath.Join(realRoot, filepath.FromSlash(rel))
	if !within(realRoot, full) {
		return "", fmt.Errorf("%s leads outside the checkout", rel)
	}
	resolved, err := filepath.EvalSymlinks(full)
	if os.IsNotExist(err) {
		dir, derr := filepath.EvalSymlinks(filepath.Dir(full))
		if derr != nil {
			return "", fmt.Errorf("%s: %w", rel, derr)
		}
		resolved, err = filepath.Join(dir, filepath.Base(full)), nil
	}
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", rel, err)
	}
	if !within(realRoot, resolved) {
		return "", fmt.Errorf("%s leads outside the checkout (to %s); symlinks must stay inside the repository", rel, resolved)
	}
	return resolved, nil
}

// within reports whether path is root or lies below it.
func within(root, path string) bool {
	r, err := filepath.Rel(root, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// WorkspaceRel returns p relative to the workspace ws, "/"-separated, with
// symbolic links in both followed (p may have been resolved by SafeJoin
// where ws was not, as under a data folder reached through a symlink), or
// an error when p lies outside ws. ws itself is ".".
func WorkspaceRel(ws, p string) (string, error) {
	if real, err := filepath.EvalSymlinks(ws); err == nil {
		ws = real
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	rel, err := filepath.Rel(ws, p)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", fmt.Errorf("%s lies outside the checkout", p)
	}
	return filepath.ToSlash(rel), nil
}

// CheckWorkspace refuses a build whose context or Dockerfile lies outside
// its Workspace (symbolic links followed), when it has one: an executor's
// builder gets the workspace only.
func (spec BuildSpec) CheckWorkspace() error {
	if spec.Workspace == "" {
		return nil
	}
	dockerfile := spec.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	for _, p := range []struct{ what, path string }{
		{"build context", spec.ContextDir},
		{"Dockerfile", filepath.Join(spec.ContextDir, filepath.FromSlash(dockerfile))},
	} {
		if _, err := WorkspaceRel(spec.Workspace, p.path); err != nil {
			return fmt.Errorf("%s %s lies outside the build's workspace %s: the builder gets the workspace only; keep the context and the Dockerfile inside the checkout", p.what, p.path, spec.Workspace)
		}
	}
	return nil
}
