package pipeline

import (
	"regexp"
	"strings"
)

// RedactURL hides the credentials of a repository URL, for showing it:
// https://user:pass@host/x.git becomes https://user:***@host/x.git, and a
// lone user name of an http(s) URL (often a token) becomes ***. ssh user
// names (git@host:x, ssh://git@host/x) and other strings are unchanged.
// Clone with the URL itself, never with this.
func RedactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	at := strings.LastIndexByte(rest[:hostEnd], '@')
	if at < 0 {
		return u
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	switch {
	case hasPass:
		user += ":***"
	case strings.HasPrefix(strings.ToLower(scheme), "http"):
		user = "***"
	}
	return scheme + "://" + user + rest[at:]
}

// urlInText matches a URL with credentials in free text (an error, a log
// line): scheme://userinfo@, the userinfo without spaces, quotes or "/".
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@'"<>]+@[^\s'"<>]*`)

// RedactText hides the credentials of every URL in s (see RedactURL), for
// errors, reasons and logs that may quote a repository URL.
func RedactText(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, RedactURL)
}
