package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// HeadReader reads where a remote branch points without cloning it.
type HeadReader interface {
	// Head returns the full commit SHA branch points at in the repository at
	// url (`git ls-remote`). It never prompts for credentials; a missing
	// branch or repository is an error saying which. Safe for concurrent use.
	Head(ctx context.Context, url, branch string) (sha string, err error)
}

// BranchReader lists the branches of a remote repository without cloning
// it: one question per repository where a HeadReader asks one per branch.
type BranchReader interface {
	// Branches returns the full commit SHA of every branch of the
	// repository at url, by branch name ("main", "release/2"). It never
	// prompts for credentials; an unreadable repository is an error saying
	// why. Safe for concurrent use.
	Branches(ctx context.Context, url string) (map[string]string, error)
}

// DefaultBranchReader reads which branch a remote repository checks out by
// default, as `git clone` without --branch would.
type DefaultBranchReader interface {
	// DefaultBranch returns the name of the branch the repository at url
	// has as HEAD ("main"), without cloning it. It never prompts for
	// credentials; an unreadable repository is an error saying why. Safe
	// for concurrent use.
	DefaultBranch(ctx context.Context, url string) (string, error)
}

// Push is a commit arriving on a branch of a repository, from a webhook or
// a poll.
type Push struct {
	Repo   string // the repository URL, in any of its spellings
	Branch string // "main" or "refs/heads/main"
	Commit string // the full SHA the branch now points at
	// Before is the SHA the branch pointed at before the push, when the
	// provider says ("" when not): a push from the commit Hoist built last
	// to one it built earlier (a force-push back) builds it again, where a
	// replayed delivery of the older push does not.
	Before string
	Via    string // "github", "gitlab", "gitea", "generic" or "poll", for logs
}

// PushedBuild is what a push did to one project.
type PushedBuild struct {
	Project string // Project.Key()
	Build   Build
	Outcome EnqueueOutcome
}

// EnqueueOutcome says what EnqueueCommit did.
type EnqueueOutcome string

// The outcomes of EnqueueCommit.
const (
	// EnqueueQueued: a new queued build was created.
	EnqueueQueued EnqueueOutcome = "queued"
	// EnqueueJoined: the project's queued build was kept, now for commit.
	EnqueueJoined EnqueueOutcome = "joined"
	// EnqueueDuplicate: a build of commit is already running or has run;
	// nothing was queued.
	EnqueueDuplicate EnqueueOutcome = "duplicate"
)

// CommitQueue queues builds for a known commit, so that the same commit
// arriving twice (a webhook redelivered, a webhook and a poll) yields one
// build.
type CommitQueue interface {
	// EnqueueCommit queues a build of project for commit (a full SHA) with
	// cause, in one transaction, and says what it did:
	//   - the project has a build recorded for commit that is queued or
	//     running: EnqueueDuplicate, and that build is returned;
	//   - the project has an ended build of commit that did not fail to
	//     start (StartFailed): EnqueueDuplicate too (a replayed delivery of
	//     an older push builds nothing), unless before (the commit the
	//     branch left, "" if unknown) is that of the project's newest such
	//     build and not commit: the branch moved back from what was built
	//     last, so commit is built again;
	//   - the project has a queued build (for another commit or none): it
	//     joins it, recording commit on it: EnqueueJoined;
	//   - otherwise a new queued build with Commit = commit: EnqueueQueued.
	// The runner still records the commit it actually checks out.
	EnqueueCommit(ctx context.Context, project, commit, before, cause string, now time.Time) (Build, EnqueueOutcome, error)
}

// StartFailed reports whether b ended without getting as far as a
// checked-out commit: cancelled, or failed before or during checkout. Such a
// build does not count as a build of its commit.
func (b Build) StartFailed() bool {
	switch b.Status {
	case StatusCancelled:
		return true
	case StatusFailed:
		return b.FailedStage == "" || b.FailedStage == StageCheckout
	}
	return false
}

// SameCommit reports whether two commit SHAs name the same commit: equal
// ignoring case, or one a prefix (at least 7 hex digits) of the other.
func SameCommit(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if len(a) < 7 || len(b) < 7 {
		return false
	}
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// PushCause is the cause of a build triggered by a push (a webhook):
// "git push abc1234 to main".
func PushCause(commit, branch string) string {
	if len(commit) > 7 {
		commit = commit[:7]
	}
	return fmt.Sprintf("git push %s to %s", commit, branch)
}

// PollCause is the cause of a build queued because a poll found a new
// commit on a branch: "poll found abc1234 on main".
func PollCause(commit, branch string) string {
	if len(commit) > 7 {
		commit = commit[:7]
	}
	return fmt.Sprintf("poll found %s on %s", commit, branch)
}

// ScheduleCause is the cause of a scheduled build: "schedule weekly" for the
// descriptors (@weekly, @daily, …), "schedule <spec>" for a cron spec.
func ScheduleCause(spec string) string {
	spec = strings.TrimSpace(spec)
	if name, ok := strings.CutPrefix(spec, "@"); ok && !strings.HasPrefix(name, "every ") {
		return "schedule " + name
	}
	return "schedule " + spec
}

// NormalizeRepoURL returns a form of a git repository URL that is the same
// for every spelling of one repository: the scheme and user dropped (so
// https://, ssh:// and scp-like git@host:path meet), the host lower-cased,
// and a trailing "/" or ".git" removed. "https://GitHub.com/Org/Repo.git/"
// and "git@github.com:Org/Repo" both become "github.com/Org/Repo". Local
// paths are cleaned of a trailing "/" and ".git" only.
func NormalizeRepoURL(u string) string {
	u = strings.TrimSpace(u)
	host, path := splitRepoURL(u)
	path = strings.TrimRight(path, "/")
	path = strings.TrimSuffix(path, ".git")
	path = strings.TrimRight(path, "/")
	if host == "" {
		return path
	}
	return strings.ToLower(host) + "/" + strings.TrimLeft(path, "/")
}

// splitRepoURL splits a URL or scp-like address into host (without user
// and default ports) and path; host is "" for local paths and file URLs.
func splitRepoURL(u string) (host, path string) {
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		if strings.EqualFold(scheme, "file") {
			return "", rest
		}
		host, path, _ = strings.Cut(rest, "/")
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		for _, port := range []string{":443", ":80", ":22", ":9418"} {
			host = strings.TrimSuffix(host, port)
		}
		return host, path
	}
	colon, slash := strings.IndexByte(u, ':'), strings.IndexByte(u, '/')
	if colon > 0 && (slash < 0 || colon < slash) { // scp-like: [user@]host:path
		host, path = u[:colon], u[colon+1:]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		return host, path
	}
	return "", u
}
