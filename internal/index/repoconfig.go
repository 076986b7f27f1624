package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/hoistci/hoist/internal/pipeline"
)

// RepoConfigs reads the per-repository cccp.yml found beside a target
// file. It implements pipeline.RepoConfigReader and holds no state.
type RepoConfigs struct{}

var _ pipeline.RepoConfigReader = RepoConfigs{}

// repoConfigNames are the names cccp.yml may have, in the order looked for.
var repoConfigNames = []string{"cccp.yml", ".cccp.yml", "cccp.yaml", ".cccp.yaml"}

// ReadRepoConfig reads the first of cccp.yml, .cccp.yml, cccp.yaml and
// .cccp.yaml in dir, a folder of the checkout at root. found is false when
// there is none. cfg.File is the name found. A cccp.yml that leads outside
// the checkout (a symlink), that is not a regular file, or that is over
// pipeline.DefaultMaxBytes is refused unread. The error joins Diagnostics,
// each with file:line:col.
func (RepoConfigs) ReadRepoConfig(root, dir string) (cfg pipeline.RepoConfig, found bool, err error) {
	for _, name := range repoConfigNames {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		rel, err := relTo(root, p)
		if err != nil {
			return pipeline.RepoConfig{}, true, fmt.Errorf("reading repository config: %w", err)
		}
		data, err := pipeline.ReadCheckoutFile(root, filepath.ToSlash(rel), pipeline.DefaultMaxBytes)
		if err != nil {
			return pipeline.RepoConfig{}, true, err
		}
		cfg, err := ParseRepoConfig(p, data)
		cfg.File = name
		return cfg, true, err
	}
	return pipeline.RepoConfig{}, false, nil
}

// relTo is p relative to root, both with their symlinks resolved (dir may
// be the resolved form of a folder under a symlinked root).
func relTo(root, p string) (string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	realDir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Rel(realRoot, filepath.Join(realDir, filepath.Base(p)))
}

// repoConfigKeys are the keys of cccp.yml Hoist reads.
var repoConfigKeys = []string{
	"job-id", "test-skip", "test-script", "checks", "size-budget", "structure-tests", "autotest",
	"prebuild-image", "test-image",
}

// ParseRepoConfig reads the bytes of a cccp.yml; name is its path, for the
// diagnostics. Keys: job-id (a string), test-skip (a boolean), test-script
// (a path relative to the file's folder that must stay inside it), and
// Hoist's own: checks (check id, rule or group → blocking, advisory or
// exclude), size-budget (bytes, or a number with a unit: 300MB, 1.5GiB),
// structure-tests (a path or a list of paths, like test-script), autotest
// (a path, like test-script), and prebuild-image and test-image (an image
// reference the engine can pull, the script's container). Upstream's unused keys
// (build-script, delivery-script, docker-index, custom-delivery,
// local-delivery, upstreams) and unknown keys are ignored. The error joins
// every problem as a Diagnostic.
func ParseRepoConfig(name string, data []byte) (pipeline.RepoConfig, error) {
	r := &reporter{file: name}
	var cfg pipeline.RepoConfig
	body, _ := parseDocument(data, pipeline.DefaultParseLimits(), r)
	if body != nil {
		t := newTree(body)
		if ps, ok := t.pairs(t.resolve(body), 0); ok {
			readRepoConfig(t, r, ps, &cfg)
			t.overMerged(r)
		} else {
			r.errorf(posOf(body), "%s must be a mapping of keys (%s), got %s",
				filepath.Base(name), strings.Join(repoConfigKeys, ", "), kindOf(t.resolve(body)))
		}
	}
	sortDiagnostics(r.diags)
	errs := make([]error, len(r.diags))
	for i, d := range r.diags {
		errs[i] = d
	}
	return cfg, errors.Join(errs...)
}

// readRepoConfig fills cfg from the pairs of a cccp.yml.
func readRepoConfig(t *tree, r *reporter, ps []pair, cfg *pipeline.RepoConfig) {
	seen := map[string]pos{}
	for _, p := range ps {
		if prev, dup := seen[p.key]; dup {
			if !p.merged {
				r.errorf(p.keyPos, "key %q is set twice (first on line %d); remove one", p.key, prev.line)
			}
			continue
		}
		seen[p.key] = p.keyPos
		v, at := t.resolve(p.value), posOf(p.value)
		switch p.key {
		case "job-id":
			cfg.JobID = repoString(r, p.key, v, at)
		case "test-skip":
			cfg.TestSkip = repoBool(r, v, at)
		case "test-script":
			cfg.TestScript = relFile(r, p.key, repoString(r, p.key, v, at), at)
		case "checks":
			cfg.Checks = readChecks(t, r, v, at)
		case "size-budget":
			cfg.SizeBudget = readSize(r, p.key, v, at)
		case "structure-tests":
			cfg.StructureTests = readPaths(t, r, p.key, v, at)
		case "autotest":
			cfg.Autotest = relFile(r, p.key, repoString(r, p.key, v, at), at)
		case "prebuild-image":
			cfg.PrebuildImage = scriptImage(r, p.key, repoString(r, p.key, v, at), at)
		case "test-image":
			cfg.TestImage = scriptImage(r, p.key, repoString(r, p.key, v, at), at)
		}
	}
}

// repoString reads a string value; null is "".
func repoString(r *reporter, key string, v ast.Node, at pos) string {
	if isNull(v) {
		return ""
	}
	s, ok := scalarText(v)
	if !ok {
		r.errorf(at, "%s must be a string, got %s", key, kindOf(v))
	}
	return s
}

// repoBool reads test-skip. Like upstream's YAML 1.1, yes/no and on/off
// are booleans too.
func repoBool(r *reporter, v ast.Node, at pos) bool {
	if b, ok := v.(*ast.BoolNode); ok {
		return b.Value
	}
	if isNull(v) {
		return false
	}
	s, _ := scalarText(v)
	switch strings.ToLower(s) {
	case "yes", "on", "true", "y":
		return true
	case "no", "off", "false", "n":
		return false
	}
	if s != "" {
		s = fmt.Sprintf(" %q", s)
	}
	r.errorf(at, "test-skip must be true or false, got %s%s", kindOf(v), s)
	return false
}

// relFile checks that the path s given for key is a file inside the
// folder of cccp.yml, and returns it cleaned.
func relFile(r *reporter, key, s string, at pos) string {
	if s == "" {
		return ""
	}
	c := path.Clean(s)
	if _, err := pipeline.JoinRel(".", s); err != nil || c == "." {
		r.errorf(at, "%s %q must be a file inside the folder of this file, given relative to it", key, s)
		return ""
	}
	return c
}

// scriptImage reads prebuild-image or test-image: an image reference the
// engine can pull; "" (or null) names none.
func scriptImage(r *reporter, key, s string, at pos) pipeline.ScriptImage {
	if s == "" {
		return pipeline.ScriptImage{}
	}
	if err := pipeline.CheckEngineRef(s); err != nil {
		r.errorf(at, "%s: %v", key, err)
		return pipeline.ScriptImage{}
	}
	return pipeline.ScriptImage{Ref: s, Line: at.line, Column: at.col}
}
