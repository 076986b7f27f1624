package server

import (
	"strings"
)

// remoteSchemes are the URL schemes of repositories on other machines.
var remoteSchemes = []string{"https", "http", "ssh", "git", "git+ssh", "ssh+git"}

// isRemoteRepo reports whether git would fetch url from another machine:
// an https://, http://, ssh:// or git:// URL, or an scp-like
// [user@]host:path. Everything else — a path, a file:// URL, another
// scheme — reads the server's own disk, or runs a helper.
func isRemoteRepo(url string) bool {
	if scheme, rest, ok := strings.Cut(url, "://"); ok {
		for _, s := range remoteSchemes {
			if strings.EqualFold(scheme, s) {
				host, _, _ := strings.Cut(rest, "/")
				return host != ""
			}
		}
		return false
	}
	// git's rule: a colon before the first slash makes it scp-like.
	colon := strings.IndexByte(url, ':')
	slash := strings.IndexByte(url, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}

// localRepoError is the refusal of a repository on the server's disk. It
// is the same whatever is there, so that it reveals nothing.
func localRepoError() FieldErrors {
	return FieldErrors{{"repo_url", "is not a URL of a repository on another machine: give an https://, ssh:// or git:// URL " +
		"(or user@host:path); paths and file:// URLs on the server are refused unless it runs with --allow-local-repos"}}
}

// checkRepo refuses url when it is on the server's disk and the server
// does not allow that (Options.AllowLocalRepos).
func (s *Server) checkRepo(url string) error {
	if s.opts.AllowLocalRepos || isRemoteRepo(strings.TrimSpace(url)) {
		return nil
	}
	return localRepoError()
}
