package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// templateMark marks upstream's example files (index_template.yml until
// 2018, index_template.yaml since): upstream's readers skipped every file
// whose name contains it, and so does Hoist.
const templateMark = "index_template"

// Load reads and checks an index. Each path is an index.d folder (every
// *.yaml and *.yml file in it, sorted, but templates such as
// index_template.yaml or index_template.yml), a folder
// that holds index.d/, an index.yml file, or any single index file. After
// checking each file it checks the whole set: images built twice, depends-on
// cycles and depends-on naming an image no entry builds.
//
// The error is only for a path that cannot be read at all; every problem in
// the files is a Diagnostic. Result.Projects holds every entry without an
// error, so one bad entry does not stop the others.
func Load(paths ...string) (*Result, error) {
	return Options{}.Load(paths...)
}

// Options say how Load reads an index.
type Options struct {
	// MaxFileSize bounds each index file, in bytes; 0 is
	// pipeline.DefaultMaxBytes (1 MiB). A larger file is an error
	// Diagnostic, and is not read.
	MaxFileSize int64
	// Root, when set, is a checkout every index file must lie in once
	// symlinks are resolved (an index read from a git repository); a file
	// that leads outside it is an error Diagnostic, and is not read.
	Root string
}

// Load is Load with these options.
func (o Options) Load(paths ...string) (*Result, error) {
	lim := pipeline.DefaultLimits()
	if o.MaxFileSize > 0 {
		lim.MaxBytes = o.MaxFileSize
	}
	res := &Result{}
	var files []string
	for _, p := range paths {
		fs, diags, err := expand(p)
		if err != nil {
			return nil, err
		}
		res.Diagnostics = append(res.Diagnostics, diags...)
		files = append(files, fs...)
	}
	var entries []*entry
	for _, f := range dedupe(files) {
		path, err := o.confine(f)
		if err != nil {
			res.Diagnostics = append(res.Diagnostics, Diagnostic{File: f, Severity: Error, Message: err.Error()})
			res.Files++
			continue
		}
		data, err := pipeline.ReadRegularFile(path, f, lim.MaxBytes)
		var le *pipeline.LimitError
		switch {
		case errors.As(err, &le):
			res.Diagnostics = append(res.Diagnostics, Diagnostic{File: f, Severity: Error,
				Message: le.Message + " or raise --max-index-file-size"})
			res.Files++
			continue
		case err != nil:
			return nil, fmt.Errorf("reading index file: %w", err)
		}
		es, diags := parseFile(f, data, lim)
		entries = append(entries, es...)
		res.Diagnostics = append(res.Diagnostics, diags...)
		res.Files++
	}
	res.Diagnostics = append(res.Diagnostics, checkSet(entries, true)...)
	sortDiagnostics(res.Diagnostics)
	res.Projects = projects(entries)
	return res, nil
}

// confine returns the path to read f at: f itself without a Root, else f
// resolved inside Root, or an error when it leads outside.
func (o Options) confine(f string) (string, error) {
	if o.Root == "" {
		return f, nil
	}
	abs, err := filepath.Abs(f)
	if err != nil {
		return "", err
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return "", err
	}
	p, err := pipeline.SafeJoin(root, filepath.ToSlash(rel))
	if err != nil {
		return "", fmt.Errorf("the file is not read: %w", err)
	}
	return p, nil
}

// expand returns the index files path stands for.
func expand(path string) ([]string, []Diagnostic, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading index: %w", err)
	}
	if !info.IsDir() {
		return []string{path}, nil, nil
	}
	if sub := filepath.Join(path, "index.d"); isDir(sub) {
		path = sub
	}
	files, err := indexFiles(path)
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		return nil, []Diagnostic{{File: path, Severity: Warning,
			Message: "no projects: no *.yaml or *.yml files in this folder"}}, nil
	}
	return files, nil, nil
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

// indexFiles lists the *.yaml and *.yml files of dir, sorted, leaving out
// hidden files and templates (a name containing "index_template").
func indexFiles(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading index folder: %w", err)
	}
	var files []string
	for _, de := range des {
		name := de.Name()
		ext := filepath.Ext(name)
		if (ext != ".yaml" && ext != ".yml") || strings.Contains(name, templateMark) || strings.HasPrefix(name, ".") {
			continue
		}
		if p := filepath.Join(dir, name); !isDir(p) {
			files = append(files, p)
		}
	}
	slices.Sort(files)
	return files, nil
}

// dedupe drops files named twice, keeping the first.
func dedupe(files []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		key := filepath.Clean(f)
		if !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	return out
}
