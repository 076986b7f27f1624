package index

import (
	"path/filepath"
	"regexp"
	"strings"
)

// urlScheme matches URLs git treats as remote: "https://", "ssh://", "file://"…
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// isLocalPath reports whether git would read u as a path on this machine:
// no "scheme://" and no scp-like "[user@]host:path" (a ":" before the first
// "/"), the same rule git uses.
func isLocalPath(u string) bool {
	if urlScheme.MatchString(u) {
		return false
	}
	colon := strings.IndexByte(u, ':')
	if colon < 0 {
		return true
	}
	slash := strings.IndexByte(u, '/')
	return slash >= 0 && slash < colon
}

// resolveGitURL makes a relative local path absolute against dir, the
// folder of the index file, so that an index can name repositories beside
// it ("git-url: .."). URLs and absolute paths are returned unchanged.
func resolveGitURL(u, dir string) string {
	if !isLocalPath(u) || filepath.IsAbs(u) {
		return u
	}
	return filepath.Join(dir, filepath.FromSlash(u))
}
