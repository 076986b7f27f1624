package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// ScriptImage is an image a project's script runs in, named in cccp.yml
// by prebuild-image or test-image, with where it was named (for errors).
type ScriptImage struct {
	Ref          string // an engine reference: [registry/]name[:tag][@digest]; "": none named
	Line, Column int    // of the value in cccp.yml
}

// At is where the image was named, "file:line:col", with file the path of
// cccp.yml given by the caller (relative to the repository).
func (i ScriptImage) At(file string) string {
	return fmt.Sprintf("%s:%d:%d", file, i.Line, i.Column)
}

// The grammar of an engine's image reference (distribution's reference
// package): a name of path components, optionally after a registry host
// (with a '.' or ':' in it, or localhost), a tag, a digest.
var (
	refDomainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refDomain          = regexp.MustCompile(`^` + refDomainComponent + `(?:\.` + refDomainComponent + `)*(?::[0-9]+)?$`)
	refDigest          = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// CheckEngineRef reports what is wrong with s as an image reference an
// engine can pull ("busybox", "registry.example.com:5000/tools/node:20",
// "name@sha256:…"), with a hint; nil when it is one.
func CheckEngineRef(s string) error {
	const form = "write it as [registry/]name[:tag][@digest], e.g. registry.example.com/tools/node:20"
	switch {
	case s == "":
		return fmt.Errorf("empty image reference; %s", form)
	case strings.Contains(s, "://"):
		return fmt.Errorf("image reference %q has a URL scheme; drop it (%s)", s, form)
	case strings.ContainsAny(s, " \t\n"):
		return fmt.Errorf("image reference %q has spaces; %s", s, form)
	}
	rest, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest && !refDigest.MatchString(digest) {
		return fmt.Errorf("image reference %q: invalid digest %q; it is algorithm:hex, e.g. sha256:<64 hex digits>", s, digest)
	}
	name, tag := rest, ""
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		name, tag = rest[:i], rest[i+1:]
		if !tagPattern.MatchString(tag) {
			return fmt.Errorf("image reference %q: invalid tag %q (letters, digits, '_', '.', '-'; at most 128)", s, tag)
		}
	}
	if len(name) > 255 {
		return fmt.Errorf("image reference %q: the name is longer than 255 characters", s)
	}
	parts := strings.Split(name, "/")
	if first := parts[0]; len(parts) > 1 && (strings.ContainsAny(first, ".:") || first == "localhost") {
		if !refDomain.MatchString(first) {
			return fmt.Errorf("image reference %q: %q is not a valid registry host[:port]", s, first)
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !pathComponent.MatchString(p) {
			hint := "lowercase letters, digits, '.', '_', '-'"
			if strings.ToLower(p) != p {
				hint = "repository names are lowercase"
			}
			return fmt.Errorf("image reference %q: %q is not a valid name component (%s); %s", s, p, hint, form)
		}
	}
	return nil
}
