package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// LibraryNamespace is the app-id whose images have no namespace: an entry
// with app-id "library" and job-id "centos" builds the image "centos".
const LibraryNamespace = "library"

// DefaultTag is the tag used when an image reference or an index entry has none.
const DefaultTag = "latest"

// ImageRef names an image the way the index does: namespace/name:tag.
// Namespace is empty for the library namespace.
type ImageRef struct {
	Namespace string
	Name      string
	Tag       string
}

var (
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// ParseImageRef parses "ns/name:tag", "name:tag", "ns/name" or "name".
// A missing tag becomes "latest" and the namespace "library" is dropped, so
// "library/centos" and "centos:latest" are the same reference. Registry
// hosts and digests are refused: the index names images Hoist builds.
func ParseImageRef(s string) (ImageRef, error) {
	if s == "" {
		return ImageRef{}, fmt.Errorf("empty image reference")
	}
	if strings.Contains(s, "@") {
		return ImageRef{}, fmt.Errorf("image reference %q: digests are not allowed; use namespace/name:tag", s)
	}
	repo, tag := s, DefaultTag
	if i := strings.LastIndex(s, ":"); i >= 0 {
		repo, tag = s[:i], s[i+1:]
		if !tagPattern.MatchString(tag) {
			return ImageRef{}, fmt.Errorf("image reference %q: invalid tag %q", s, tag)
		}
	}
	parts := strings.Split(repo, "/")
	if len(parts) > 2 {
		return ImageRef{}, fmt.Errorf("image reference %q: want namespace/name:tag, not a registry path", s)
	}
	for _, p := range parts {
		if !pathComponent.MatchString(p) {
			return ImageRef{}, fmt.Errorf("image reference %q: %q is not a valid name (lowercase letters, digits, '.', '_', '-')", s, p)
		}
	}
	ref := ImageRef{Name: parts[len(parts)-1], Tag: tag}
	if len(parts) == 2 && parts[0] != LibraryNamespace {
		ref.Namespace = parts[0]
	}
	return ref, nil
}

// ValidName reports whether s can be a namespace or name component of an image.
func ValidName(s string) bool { return pathComponent.MatchString(s) }

// ValidTag reports whether s can be an image tag.
func ValidTag(s string) bool { return tagPattern.MatchString(s) }

// Repository is "namespace/name", or "name" in the library namespace.
func (r ImageRef) Repository() string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// String is "namespace/name:tag".
func (r ImageRef) String() string { return r.Repository() + ":" + r.Tag }

// WithTag returns r with another tag.
func (r ImageRef) WithTag(tag string) ImageRef { r.Tag = tag; return r }

// In returns the full reference of r in the registry at host, for example
// "127.0.0.1:5000/ns/name:tag".
func (r ImageRef) In(host string) string { return host + "/" + r.String() }
