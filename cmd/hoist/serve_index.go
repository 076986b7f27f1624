package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/reconcile"
	"github.com/hoistci/hoist/internal/source"
)

// indexFlags say how hoist serve tracks its --index.
type indexFlags struct {
	branch   string
	path     string
	interval time.Duration
	secret   string // --webhook-secret
	opts     *index.Options
}

func (f *indexFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.branch, "index-branch", "", "branch of a git --index to track (default: the repository's default branch); makes a local --index path a git repository")
	fs.StringVar(&f.path, "index-path", "index.d", "where the index is inside a git --index: an index.d folder, an index.yml or a file")
	fs.DurationVar(&f.interval, "index-interval", reconcile.DefaultInterval, "how often to re-read the --index (a webhook POST /hooks/index also does)")
	f.opts = indexOptions(fs)
}

// scpURL matches scp-like git addresses: user@host:path.
var scpURL = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:`)

// isGitIndex reports whether an --index is a git repository: a URL
// (https://, http://, ssh://, git://, file://), an scp-like address, a path
// ending in .git, or any path when --index-branch is given.
func isGitIndex(arg, branch string) bool {
	return branch != "" || strings.Contains(arg, "://") || scpURL.MatchString(arg) || strings.HasSuffix(arg, ".git")
}

// indexReader is how the --index is read: a git repository fetched into
// DATA/index, or local folders and files read in place.
func (f *indexFlags) indexReader(indexes []string, data string) (pipeline.IndexReader, error) {
	git := false
	for _, ix := range indexes {
		git = git || isGitIndex(ix, f.branch)
	}
	if !git {
		return &reconcile.FolderIndex{Paths: indexes, Loader: f.loader("")}, nil
	}
	if len(indexes) > 1 {
		return nil, fmt.Errorf("--index %s is a git repository: give only one --index with it", strings.Join(indexes, ", "))
	}
	url := indexes[0]
	if !strings.Contains(url, "://") && !scpURL.MatchString(url) {
		abs, err := filepath.Abs(url)
		if err != nil {
			return nil, fmt.Errorf("--index %s: %w", url, err)
		}
		url = abs
	}
	// Absolute, so that relative git-urls resolve to absolute paths.
	dir, err := filepath.Abs(filepath.Join(data, "index"))
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", data, err)
	}
	return &reconcile.GitIndex{URL: url, Branch: f.branch, Path: f.path, Dir: dir,
		Source: source.New(), Loader: f.loader(filepath.Join(dir, "checkout"))}, nil
}

// loader reads the index with the --max-index-file-size; a git index's
// files must stay inside its checkout at root.
func (f *indexFlags) loader(root string) index.Loader {
	l := index.Loader{Root: root}
	if f.opts != nil {
		l.MaxFileSize = f.opts.MaxFileSize
	}
	return l
}

// startTracking makes the tracker of the --index and reconciles once, so
// that hoist serve starts with the index in force; nil without --index. An
// index that cannot be read at all (a wrong path, an unreachable
// repository) stops hoist serve; one with errors is recorded and shown.
func startTracking(ctx context.Context, f *serveFlags, st reconcile.Store, q reconcile.Queue, log *slog.Logger) (*reconcile.Tracker, error) {
	if len(f.indexes) == 0 {
		return nil, nil
	}
	reader, err := f.track.indexReader(f.indexes, f.data)
	if err != nil {
		return nil, err
	}
	t := reconcile.New(reader, st, q, reconcile.Options{Interval: f.track.interval, Logger: log.With("part", "index")})
	rec, err := t.Reconcile(ctx)
	if err != nil {
		return nil, err
	}
	if len(rec.Errors) > 0 {
		log.Warn("the index has errors: nothing from it was changed; see /index", "errors", len(rec.Errors))
	}
	return t, nil
}

// withIndexHook serves POST /hooks/index from t, and everything else from h.
func withIndexHook(h http.Handler, t *reconcile.Tracker, secret string) http.Handler {
	if t == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/index", t.HookHandler(secret))
	mux.Handle("/", h)
	return mux
}

// webhookSecretFlag is the flag holding the secret webhooks are signed
// with; the git webhooks share it.
const webhookSecretFlag = "webhook-secret"

// registerSecret adds --webhook-secret unless it is already there. Call it
// after every other flag is registered.
func registerSecret(fs *flag.FlagSet) {
	if fs.Lookup(webhookSecretFlag) == nil {
		fs.String(webhookSecretFlag, "", "secret webhooks are signed with (HMAC-SHA256); default $HOIST_WEBHOOK_SECRET; empty: webhooks are off")
	}
}

// webhookSecret is --webhook-secret, else $HOIST_WEBHOOK_SECRET.
func webhookSecret(fs *flag.FlagSet) string {
	if s := fs.Lookup(webhookSecretFlag).Value.String(); s != "" {
		return s
	}
	return os.Getenv("HOIST_WEBHOOK_SECRET")
}
