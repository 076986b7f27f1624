// Package source checks out git repositories for the pipeline's checkout
// stage through the git command-line tool, so that every transport
// (file, http(s), ssh, git) and every credential helper the machine has
// configured work as they do for the user's own git. Checkouts are shallow
// and never prompt for credentials.
package source

import (
	"context"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Git checks out repositories with the git CLI. The zero value is ready to
// use; a Git is safe for concurrent use with different target folders.
type Git struct {
	// Binary is the git program to run; "" means "git" on PATH.
	Binary string
	// LowSpeedTime is how long an HTTP transfer may receive (almost)
	// nothing before git gives up; 0: DefaultLowSpeedTime. It does not
	// bound a whole checkout: give ctx a deadline for that.
	LowSpeedTime time.Duration
	// Runner runs git; nil: Binary on this host. With a Runner, the dir
	// Checkout is given is a folder where the Runner runs git, which
	// exists and is empty, and Checkout makes no call to this host's file
	// system: the Runner's owner copies the checkout where it is needed,
	// and throws the folder away when the checkout fails. Head, Branches
	// and DefaultBranch use it too.
	Runner Runner
}

var _ pipeline.Source = (*Git)(nil)

// New returns a Git that runs "git" from PATH.
func New() *Git { return &Git{} }

// commitPattern matches a full or abbreviated commit SHA.
var commitPattern = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// Checkout clones url at branch (a branch, a tag, a full or abbreviated
// commit SHA, or "" for the remote's default branch) into dir, which must
// not exist yet or be empty, and returns the commit checked out. Plain
// local paths, absolute or relative, are read through file:// URLs so that
// the clone is shallow. Submodules are checked out too. Every command and
// its output go to log, with passwords in URLs replaced by "***". When the
// checkout fails, dir is removed. Errors for a missing repository, missing
// credentials and a missing branch wrap ErrRepoNotFound, ErrAuthRequired
// and ErrRefNotFound.
func (g *Git) Checkout(ctx context.Context, url, branch, dir string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	remote, err := remoteURL(url)
	if err != nil {
		return "", err
	}
	if g.onHost() {
		if err := pipeline.CheckoutDirReady(dir); err != nil {
			return "", err
		}
	}
	c := &call{git: g, ctx: ctx, log: log, shown: pipeline.RedactURL(url)}
	commit, err := c.checkout(remote, branch, dir)
	if err != nil {
		if g.onHost() {
			_ = os.RemoveAll(dir)
		}
		return "", err
	}
	return commit, nil
}

// checkout fetches ref into dir, then its submodules, and returns HEAD.
func (c *call) checkout(remote, ref, dir string) (string, error) {
	var err error
	if commitPattern.MatchString(ref) {
		err = c.fetchCommit(remote, ref, dir)
	} else {
		err = c.clone(remote, ref, dir)
	}
	if err == nil {
		err = c.submodules(dir)
	}
	if err != nil {
		return "", err
	}
	if err := c.forgetCredentials(remote, dir); err != nil {
		return "", err
	}
	head, err := c.output(dir, "rev-parse", "--verify", "--quiet", "HEAD")
	if err != nil {
		return "", fmt.Errorf("repository %s has no commits", c.shown)
	}
	return head, nil
}

// forgetCredentials leaves the checkout's origin without the user name and
// password the remote URL carried: the checkout is handed to the build
// context and to sandboxed scripts, which must not find them in
// .git/config.
func (c *call) forgetCredentials(remote, dir string) error {
	u, err := neturl.Parse(remote)
	if err != nil || u.User == nil {
		return nil
	}
	u.User = nil
	if out, err := c.run(dir, "remote", "set-url", "origin", u.String()); err != nil {
		return c.failed("removing the credentials from the checkout's origin", err, out)
	}
	return nil
}

// clone makes a shallow clone of one branch or tag ("" = the default branch).
func (c *call) clone(remote, branch, dir string) error {
	args := []string{"clone", "--depth", "1", "--single-branch", "--no-tags"}
	if branch != "" {
		args = append(args, "--branch="+branch)
	}
	out, err := c.run("", append(args, "--", remote, dir)...)
	if err == nil {
		return nil
	}
	if e := c.classify(out); e != nil {
		return e
	}
	if branchMissing(out) {
		return c.branchNotFound(remote, branch)
	}
	return c.failed("cloning", err, out)
}

// fetchCommit checks out one commit: a shallow fetch of a full SHA when the
// server allows it, else the whole history.
func (c *call) fetchCommit(remote, sha, dir string) error {
	if c.git.onHost() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating checkout folder: %w", err)
		}
	}
	if out, err := c.run(dir, "init", "--quiet", "--initial-branch=hoist"); err != nil {
		return c.failed("initialising", err, out)
	}
	if out, err := c.run(dir, "remote", "add", "origin", remote); err != nil {
		return c.failed("adding remote", err, out)
	}
	if len(sha) == 40 {
		out, err := c.run(dir, "fetch", "--depth", "1", "--no-tags", "origin", sha)
		if err == nil {
			return c.detach(dir, "FETCH_HEAD")
		}
		if e := c.classify(out); e != nil {
			return e
		}
		fmt.Fprintf(c.log, "shallow fetch of %s refused; fetching the whole history\n", sha)
	}
	if out, err := c.run(dir, "fetch", "--tags", "origin"); err != nil {
		if e := c.classify(out); e != nil {
			return e
		}
		return c.failed("fetching", err, out)
	}
	if _, err := c.output(dir, "rev-parse", "--verify", "--quiet", sha+"^{commit}"); err != nil {
		return &Error{Kind: ErrRefNotFound, Msg: fmt.Sprintf("commit %s not found in %s", sha, c.shown)}
	}
	return c.detach(dir, sha)
}

// detach checks out rev with a detached HEAD.
func (c *call) detach(dir, rev string) error {
	out, err := c.run(dir, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", rev)
	if err != nil {
		return c.failed("checking out "+rev+" from", err, out)
	}
	return nil
}

// submodules checks out the submodules, shallow if the servers allow it.
// There are some when the commit has a .gitmodules: the fresh checkout's
// own file says so on this host (a git process less per build, ~30 ms of
// CPU), and git says so wherever else the checkout lies.
func (c *call) submodules(dir string) error {
	if c.git.onHost() {
		if _, err := os.Lstat(filepath.Join(dir, ".gitmodules")); err != nil {
			return nil
		}
	} else if _, err := c.output(dir, "rev-parse", "--verify", "--quiet", "HEAD:.gitmodules"); err != nil {
		return nil
	}
	out, err := c.run(dir, "submodule", "update", "--init", "--recursive", "--depth", "1")
	if err == nil {
		return nil
	}
	if e := c.classify(out); e != nil {
		return fmt.Errorf("submodules of %s: %w", c.shown, e)
	}
	fmt.Fprintln(c.log, "shallow submodule update failed; retrying with whole histories")
	if out, err := c.run(dir, "submodule", "update", "--init", "--recursive"); err != nil {
		return c.failed("updating the submodules of", err, out)
	}
	return nil
}

// branchNotFound builds the error for a missing branch, listing the
// branches the remote has.
func (c *call) branchNotFound(remote, branch string) error {
	msg := fmt.Sprintf("branch %q not found in %s", branch, c.shown)
	out, err := c.output("", "ls-remote", "--heads", "--", remote)
	if err == nil {
		msg += "; " + describeBranches(out)
	}
	return &Error{Kind: ErrRefNotFound, Msg: msg}
}

// describeBranches turns `git ls-remote --heads` output into "the branches
// there are: a, b".
func describeBranches(lsRemote string) string {
	var names []string
	for _, line := range strings.Split(lsRemote, "\n") {
		if _, ref, ok := strings.Cut(line, "\t"); ok {
			names = append(names, strings.TrimPrefix(ref, "refs/heads/"))
		}
	}
	const most = 20
	switch {
	case len(names) == 0:
		return "it has no branches"
	case len(names) > most:
		return fmt.Sprintf("the branches there are: %s and %d more", strings.Join(names[:most], ", "), len(names)-most)
	}
	return "the branches there are: " + strings.Join(names, ", ")
}
