package source

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The kinds of checkout failure a user can fix; test with errors.Is.
var (
	// ErrRepoNotFound: the URL names no repository.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrAuthRequired: the server wants credentials git does not have, or
	// refused the ones it had.
	ErrAuthRequired = pipeline.ErrAuthRequired
	// ErrRefNotFound: the branch, tag or commit is not in the repository.
	ErrRefNotFound = errors.New("branch, tag or commit not found")
)

// Error is a checkout failure of a known Kind, with a message for users.
type Error struct {
	Kind error // ErrRepoNotFound, ErrAuthRequired or ErrRefNotFound
	Msg  string
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

var (
	authMarkers = []string{
		"could not read username", "could not read password",
		"terminal prompts disabled", "authentication failed",
		"permission denied (publickey", "invalid username or password",
		"http basic: access denied",
	}
	repoMarkers = []string{
		"repository not found", "does not appear to be a git repository",
		"could not be found", "not found: did you run git update-server-info",
	}
	// repoQuoted is git's own "repository 'URL' not found" over http.
	repoQuoted = regexp.MustCompile(`repository '[^']*' not found`)
)

// classify recognises failures a user must fix in the project's settings
// in git's output; nil means none of them (or a cancelled context).
func (c *call) classify(out string) error {
	low := strings.ToLower(out)
	switch {
	case c.ctx.Err() != nil:
		return fmt.Errorf("checking out %s: %w", c.shown, c.ctx.Err())
	case containsAny(low, authMarkers):
		return &Error{Kind: ErrAuthRequired, Msg: fmt.Sprintf(
			"authentication required for %s (%s): give Hoist's git credentials for it (a credential helper, a token in the URL or an SSH key); it never prompts",
			c.shown, lastLine(out))}
	case containsAny(low, repoMarkers) || repoQuoted.MatchString(low):
		return &Error{Kind: ErrRepoNotFound, Msg: fmt.Sprintf(
			"repository %s not found (or not readable): %s", c.shown, lastLine(out))}
	case strings.Contains(low, "operation too slow"):
		return fmt.Errorf("%s stopped sending: git received nothing for %s and gave up (%s); check that the server works, or try again later",
			c.shown, c.git.lowSpeedTime(), lastLine(out))
	case strings.Contains(low, "host key verification failed"):
		return fmt.Errorf("host key verification failed for %s: add the server's key to ~/.ssh/known_hosts", c.shown)
	}
	return nil
}

// branchMissing reports whether clone's output says the branch or tag
// does not exist.
func branchMissing(out string) bool {
	low := strings.ToLower(out)
	return strings.Contains(low, "remote branch") && strings.Contains(low, "not found")
}

// failed is the error for an unexplained git failure: the step, the URL,
// the exit status and git's last message.
func (c *call) failed(step string, err error, out string) error {
	if c.ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", step, c.shown, c.ctx.Err())
	}
	if line := lastLine(out); line != "" {
		return fmt.Errorf("%s %s: %w: %s", step, c.shown, err, line)
	}
	return fmt.Errorf("%s %s: %w", step, c.shown, err)
}

// boilerplate is git's generic advice after a transport failure; the line
// before it says what went wrong.
var boilerplate = []string{
	"could not read from remote repository",
	"please make sure you have the correct access rights",
	"and the repository exists",
}

// lastLine returns the last meaningful line of out, preferring git's
// "fatal:" or "error:" message and skipping its generic advice.
func lastLine(out string) string {
	var lines []string
	for _, l := range strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" && !containsAny(strings.ToLower(l), boilerplate) {
			lines = append(lines, l)
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "fatal:") || strings.HasPrefix(lines[i], "error:") {
			return lines[i]
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
