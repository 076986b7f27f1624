package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.HeadReader = (*Git)(nil)

// Head returns the commit branch points at in the repository at url, with
// `git ls-remote`, without cloning. It never prompts for credentials. A
// missing branch is an error wrapping ErrRefNotFound.
func (g *Git) Head(ctx context.Context, url, branch string) (string, error) {
	remote, err := remoteURL(url)
	if err != nil {
		return "", err
	}
	if branch == "" || strings.HasPrefix(branch, "-") {
		return "", fmt.Errorf("reading the head of %s: branch %q is not a branch name", pipeline.RedactURL(url), branch)
	}
	c := &call{git: g, ctx: ctx, shown: pipeline.RedactURL(url)}
	var out, stderr strings.Builder
	if err := c.runGit("", &out, &stderr, "ls-remote", "--heads", "--", remote, "refs/heads/"+branch); err != nil {
		if e := c.classify(stderr.String()); e != nil {
			return "", e
		}
		return "", fmt.Errorf("reading the head of %s %s: git ls-remote: %w: %s", c.shown, branch, err, lastLine(stderr.String()))
	}
	sha, _, ok := strings.Cut(strings.TrimSpace(out.String()), "\t")
	if !ok || !commitPattern.MatchString(sha) {
		return "", &Error{Kind: ErrRefNotFound, Msg: fmt.Sprintf("branch %q not found in %s", branch, c.shown)}
	}
	return sha, nil
}

var _ pipeline.BranchReader = (*Git)(nil)

// Branches returns the commit every branch of the repository at url points
// at, by branch name, with one `git ls-remote --heads`, without cloning.
// It never prompts for credentials.
func (g *Git) Branches(ctx context.Context, url string) (map[string]string, error) {
	remote, err := remoteURL(url)
	if err != nil {
		return nil, err
	}
	c := &call{git: g, ctx: ctx, shown: pipeline.RedactURL(url)}
	if dir, ok := localGitDir(remote); ok && g.onHost() {
		if heads, err := c.localBranches(dir); err == nil {
			return heads, nil
		}
		// ls-remote says what is wrong with it.
	}
	var out, stderr strings.Builder
	if err := c.runGit("", &out, &stderr, "ls-remote", "--heads", "--", remote); err != nil {
		if e := c.classify(stderr.String()); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("listing the branches of %s: git ls-remote: %w: %s", c.shown, err, lastLine(stderr.String()))
	}
	heads := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		sha, ref, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if branch, isHead := strings.CutPrefix(ref, "refs/heads/"); ok && isHead && branch != "" && commitPattern.MatchString(sha) {
			heads[branch] = sha
		}
	}
	return heads, nil
}

// localGitDir returns the git folder of a file:// remote that is a
// repository on this machine, found as git-upload-pack finds it: DIR/.git
// (a folder or a gitfile), else DIR itself when it is a bare repository.
func localGitDir(remote string) (string, bool) {
	dir, ok := strings.CutPrefix(remote, "file://")
	if !ok || !filepath.IsAbs(dir) {
		return "", false
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return filepath.Join(dir, ".git"), true
	}
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", false
		}
	}
	return dir, true
}

// localBranches lists the branches of the repository whose git folder is
// gitDir with one git for-each-ref, where ls-remote would start a shell and
// git-upload-pack too: three processes for each repository of a sweep.
func (c *call) localBranches(gitDir string) (map[string]string, error) {
	out, err := c.output("", "--git-dir="+gitDir, "for-each-ref", "--format=%(objectname)%09%(refname)", "refs/heads/")
	if err != nil {
		return nil, err
	}
	heads := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		sha, ref, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if branch, isHead := strings.CutPrefix(ref, "refs/heads/"); ok && isHead && branch != "" && commitPattern.MatchString(sha) {
			heads[branch] = sha
		}
	}
	return heads, nil
}

var _ pipeline.DefaultBranchReader = (*Git)(nil)

// DefaultBranch returns the branch the repository at url has as HEAD, the
// one `git clone` checks out without --branch, with `git ls-remote
// --symref`, without cloning. It never prompts for credentials.
func (g *Git) DefaultBranch(ctx context.Context, url string) (string, error) {
	remote, err := remoteURL(url)
	if err != nil {
		return "", err
	}
	c := &call{git: g, ctx: ctx, shown: pipeline.RedactURL(url)}
	var out, stderr strings.Builder
	if err := c.runGit("", &out, &stderr, "ls-remote", "--symref", "--", remote, "HEAD"); err != nil {
		if e := c.classify(stderr.String()); e != nil {
			return "", e
		}
		return "", fmt.Errorf("reading the default branch of %s: git ls-remote: %w: %s", c.shown, err, lastLine(stderr.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		ref, name, ok := strings.Cut(line, "\t")
		if branch, isHead := strings.CutPrefix(ref, "ref: refs/heads/"); ok && isHead && name == "HEAD" && branch != "" {
			return branch, nil
		}
	}
	if strings.TrimSpace(out.String()) == "" {
		return "", fmt.Errorf("repository %s has no default branch (it is empty, or its HEAD names no branch): give the branch", c.shown)
	}
	return "", fmt.Errorf("the server of %s does not say which branch is its default (HEAD): give the branch", c.shown)
}
