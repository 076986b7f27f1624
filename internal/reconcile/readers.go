package reconcile

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// FolderIndex reads an index from local paths (index.d folders, index.yml
// files or project files). Its revision is the newest modification time of
// the paths and everything under them, so that editing, adding or removing
// a file changes it.
type FolderIndex struct {
	Paths  []string
	Loader pipeline.IndexLoader
}

var _ pipeline.IndexReader = (*FolderIndex)(nil)

// ReadIndex reads the index.
func (f *FolderIndex) ReadIndex(ctx context.Context) (pipeline.IndexSnapshot, error) {
	rev, err := newestChange(f.Paths)
	if err != nil {
		return pipeline.IndexSnapshot{}, err
	}
	projects, errs, err := f.Loader.LoadIndex(f.Paths...)
	if err != nil {
		return pipeline.IndexSnapshot{}, err
	}
	return pipeline.IndexSnapshot{Revision: rev, Projects: projects, Errors: errs}, nil
}

// newestChange is the newest modification time under paths, as RFC 3339.
func newestChange(paths []string) (string, error) {
	var newest time.Time
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.ModTime().After(newest) {
				newest = info.ModTime()
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("reading the index %s: %w", p, err)
		}
	}
	return newest.UTC().Format(time.RFC3339Nano), nil
}

// GitIndex reads an index from a git repository: a shallow clone of
// Branch into Dir/checkout (replaced at each read), and Path in it (""
// for the whole repository). Relative git-urls of its entries resolve
// against the checkout, whose path does not change from one read to the
// next. The revision is the commit.
type GitIndex struct {
	URL    string
	Branch string
	Path   string
	Dir    string // DATA/index
	Source pipeline.Source
	Loader pipeline.IndexLoader
	Log    io.Writer // git's progress; nil: discarded
	// Timeout bounds one fetch, so that a server that never answers does
	// not stop index tracking; 0: DefaultGitIndexTimeout.
	Timeout time.Duration
}

// DefaultGitIndexTimeout bounds a fetch of the index when GitIndex.Timeout
// is not set.
const DefaultGitIndexTimeout = 10 * time.Minute

var _ pipeline.IndexReader = (*GitIndex)(nil)

// ReadIndex fetches the branch and reads the index in it.
func (g *GitIndex) ReadIndex(ctx context.Context) (pipeline.IndexSnapshot, error) {
	if err := os.MkdirAll(g.Dir, 0o755); err != nil {
		return pipeline.IndexSnapshot{}, fmt.Errorf("fetching the index: %w", err)
	}
	next := filepath.Join(g.Dir, "next")
	if err := os.RemoveAll(next); err != nil {
		return pipeline.IndexSnapshot{}, fmt.Errorf("fetching the index: %w", err)
	}
	log := g.Log
	if log == nil {
		log = io.Discard
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultGitIndexTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	commit, err := g.Source.Checkout(cctx, g.URL, g.Branch, next, log)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	cancel()
	if err != nil {
		_ = os.RemoveAll(next)
		return pipeline.IndexSnapshot{}, fmt.Errorf("fetching the index %s (branch %s): %w", pipeline.RedactURL(g.URL), g.Branch, err)
	}
	checkout := filepath.Join(g.Dir, "checkout")
	if err := os.RemoveAll(checkout); err != nil {
		return pipeline.IndexSnapshot{}, fmt.Errorf("fetching the index: %w", err)
	}
	if err := os.Rename(next, checkout); err != nil {
		return pipeline.IndexSnapshot{}, fmt.Errorf("fetching the index: %w", err)
	}
	root := filepath.Join(checkout, filepath.FromSlash(strings.TrimPrefix(g.Path, "/")))
	if rel, err := filepath.Rel(checkout, root); err != nil || strings.HasPrefix(rel, "..") {
		return pipeline.IndexSnapshot{}, fmt.Errorf("--index-path %q leaves the index repository: give a path inside it", g.Path)
	}
	if _, err := os.Stat(root); err != nil {
		return pipeline.IndexSnapshot{Revision: commit,
			Errors: []string{fmt.Sprintf("%s: not in the index repository at %.12s: fix --index-path or commit it", g.Path, commit)}}, nil
	}
	projects, errs, err := g.Loader.LoadIndex(root)
	if err != nil {
		return pipeline.IndexSnapshot{}, err
	}
	for i, e := range errs {
		errs[i] = strings.ReplaceAll(e, checkout+string(filepath.Separator), "")
	}
	return pipeline.IndexSnapshot{Revision: commit, Projects: projects, Errors: errs}, nil
}
