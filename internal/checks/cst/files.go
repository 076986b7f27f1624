package cst

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
)

// imagePath is p as an absolute, cleaned path in the image; upstream
// takes relative paths from the root, as docker cp does.
func imagePath(p string) string { return path.Clean("/" + p) }

// lstat is fsys.Lstat, with the root always there.
func lstat(fsys *imagefs.FS, p string) (imagefs.File, bool) {
	fi, ok := fsys.Lstat(p)
	if !ok && p == "/" {
		return imagefs.File{Path: "/", Mode: fs.ModeDir | 0o755}, true
	}
	return fi, ok
}

// fileExistence runs a fileExistenceTest. The path's $VARs come from env
// (the image's and globalEnvVars), and a final symlink is not followed.
func fileExistence(t Test, fsys *imagefs.FS, env map[string]string) (string, []string) {
	p := imagePath(expand(t.Path, env))
	shown := p
	if p != t.Path {
		shown = fmt.Sprintf("%s (%s)", t.Path, p)
	}
	fi, ok := lstat(fsys, p)
	switch {
	case !ok && t.ShouldExist:
		return "", []string{fmt.Sprintf("%s should exist but does not", shown)}
	case !ok:
		return shown + " does not exist, as expected", nil
	case !t.ShouldExist:
		return "", []string{fmt.Sprintf("%s should not exist but does (%s %d:%d)", shown, fi.Mode, fi.UID, fi.GID)}
	}
	var fails []string
	mode := fi.Mode.String()
	if t.Permissions != "" && mode != t.Permissions {
		fails = append(fails, fmt.Sprintf("%s permissions: expected %s, got %s", shown, t.Permissions, mode))
	}
	if t.IsExecutableBy != "" {
		bits := map[string]fs.FileMode{"owner": 0o100, "group": 0o010, "other": 0o001, "any": 0o111}[t.IsExecutableBy]
		if fi.Mode&bits == 0 {
			fails = append(fails, fmt.Sprintf("%s should be executable by %s, but its mode is %s", shown, t.IsExecutableBy, mode))
		}
	}
	if t.UID != -1 && fi.UID != t.UID {
		fails = append(fails, fmt.Sprintf("%s owner uid: expected %d, got %d", shown, t.UID, fi.UID))
	}
	if t.GID != -1 && fi.GID != t.GID {
		fails = append(fails, fmt.Sprintf("%s group gid: expected %d, got %d", shown, t.GID, fi.GID))
	}
	if len(fails) > 0 {
		return "", fails
	}
	return fmt.Sprintf("%s exists (%s %d:%d)", shown, mode, fi.UID, fi.GID), nil
}

// fileContent runs a fileContentTest: the file (symlinks followed) must be
// a regular file; its path is used as written, as upstream does.
func fileContent(file string, t Test, fsys *imagefs.FS) (string, []string) {
	p := imagePath(t.Path)
	data, err := fsys.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", []string{fmt.Sprintf("%s does not exist, so its contents cannot be checked", p)}
	case err != nil:
		return "", []string{fmt.Sprintf("cannot read %s: %v", p, err)}
	}
	text := string(data)
	fails := matches(file, "expectedContents", t.ExpectedContents, true, text, p)
	fails = append(fails, matches(file, "excludedContents", t.ExcludedContents, false, text, p)...)
	if len(fails) > 0 {
		return "", fails
	}
	return fmt.Sprintf("%s (%d bytes): %d expected and %d excluded pattern(s) hold", p, len(data), len(t.ExpectedContents), len(t.ExcludedContents)), nil
}

// metadata runs a metadataTest against the image's configuration.
func metadata(m *Metadata, cfg pipeline.ImageConfig) (string, []string) {
	var fails []string
	fail := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	env := envMap(cfg.Env)
	for _, v := range m.EnvVars {
		got, ok := env[v.Key]
		switch {
		case !ok:
			fail("env var %s: expected %s, but the image does not set it", v.Key, want(v))
		case !equalOrMatch(v, got):
			fail("env var %s: expected %s, got %q", v.Key, want(v), got)
		}
	}
	for _, v := range m.UnboundEnvVars {
		if got, ok := env[v.Key]; ok {
			fail("env var %s should not be set, but is %q", v.Key, got)
		}
	}
	for _, v := range m.Labels {
		got, ok := cfg.Labels[v.Key]
		switch {
		case !ok:
			fail("label %s: expected %s, but the image does not have it", v.Key, want(v))
		case !equalOrMatch(v, got):
			fail("label %s: expected %s, got %q", v.Key, want(v), got)
		}
	}
	if m.Cmd != nil && !slices.Equal(*m.Cmd, cfg.Cmd) {
		fail("cmd: expected %s, got %s", list(*m.Cmd), list(cfg.Cmd))
	}
	if m.Entrypoint != nil && !slices.Equal(*m.Entrypoint, cfg.Entrypoint) {
		fail("entrypoint: expected %s, got %s", list(*m.Entrypoint), list(cfg.Entrypoint))
	}
	if m.Workdir != "" && m.Workdir != cfg.WorkingDir {
		fail("workdir: expected %q, got %q", m.Workdir, cfg.WorkingDir)
	}
	if m.User != "" && m.User != cfg.User {
		fail("user: expected %q, got %q", m.User, cfg.User)
	}
	// Upstream compares ports by number only: "8080/tcp" is "8080".
	var ports []string
	for _, p := range cfg.ExposedPorts {
		n, _, _ := strings.Cut(p, "/")
		ports = append(ports, n)
	}
	for _, p := range m.ExposedPorts {
		if !slices.Contains(ports, p) {
			hint := ""
			if strings.Contains(p, "/") {
				hint = "; ports are compared by number alone, as upstream does: write \"" + strings.SplitN(p, "/", 2)[0] + "\""
			}
			fail("exposed port %s: not exposed (the image exposes %s)%s", p, list(cfg.ExposedPorts), hint)
		}
	}
	for _, p := range m.UnexposedPorts {
		if slices.Contains(ports, p) {
			fail("port %s should not be exposed, but is (the image exposes %s)", p, list(cfg.ExposedPorts))
		}
	}
	for _, v := range m.Volumes {
		if !slices.Contains(cfg.Volumes, v) {
			fail("volume %s: not declared (the image's volumes are %s)", v, list(cfg.Volumes))
		}
	}
	for _, v := range m.UnmountedVolumes {
		if slices.Contains(cfg.Volumes, v) {
			fail("volume %s should not be declared, but is", v)
		}
	}
	if len(fails) > 0 {
		return "", fails
	}
	return "the image configuration matches", nil
}

// equalOrMatch compares got with v's value, or matches it with isRegex.
func equalOrMatch(v EnvVar, got string) bool {
	if !v.IsRegex {
		return got == v.Value
	}
	re, err := regexp.Compile(v.Value) // Parse checked it
	return err == nil && re.MatchString(got)
}

func want(v EnvVar) string {
	if v.IsRegex {
		return "/" + v.Value + "/"
	}
	return fmt.Sprintf("%q", v.Value)
}

// list shows a string list as JSON-like text.
func list(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
