// Package index reads project indexes in the cccp format of the CentOS
// Community Container Pipeline (index.d/<app-id>.yaml files with a top key
// "Projects:") into pipeline.Projects, and checks them, reporting every
// problem with its file, line and column.
//
// It also reads the per-repository cccp.yml (RepoConfigs).
package index

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/hoistci/hoist/internal/pipeline"
)

// topKey is the one key of an index file.
const topKey = "Projects"

// ParseFile reads and checks one index file's bytes. name is the file's
// path: diagnostics carry it, an entry's app-id must be its base name without
// .yaml or .yml (any app-id in index.yml or index.yaml, the old single-file
// format), and relative local git-urls are resolved against its folder.
//
// It applies the rules within the file, including duplicate images and
// depends-on cycles; whether a depends-on names an image some entry builds
// is only checked by Load, which sees the whole index. Projects holds every
// entry without an error.
func ParseFile(name string, data []byte) ([]pipeline.Project, []Diagnostic) {
	entries, diags := parseFile(name, data, pipeline.DefaultLimits())
	diags = append(diags, checkSet(entries, false)...)
	sortDiagnostics(diags)
	return projects(entries), diags
}

// projects returns the projects of the entries without errors.
func projects(entries []*entry) []pipeline.Project {
	var out []pipeline.Project
	for _, e := range entries {
		if !e.bad {
			out = append(out, e.p)
		}
	}
	return out
}

// parseFile reads one file within lim and applies the rules within each
// entry and the unique ids of the file.
func parseFile(name string, data []byte, lim pipeline.Limits) ([]*entry, []Diagnostic) {
	r := &reporter{file: name}
	body, ok := parseDocument(data, lim, r)
	if body == nil {
		if ok {
			r.warnf(pos{}, "no projects: %s", emptyWhy(data))
		}
		return nil, r.diags
	}
	t := newTree(body)
	list := projectsList(t, body, r)
	ctx := newFileCtx(name)
	var entries []*entry
	for i, item := range list {
		if e := parseEntry(t, r, ctx, item, i+1); e != nil {
			entries = append(entries, e)
		}
	}
	checkIDs(entries, r)
	t.overMerged(r)
	return entries, r.diags
}

func newFileCtx(name string) fileCtx {
	base := filepath.Base(name)
	app := base
	if ext := filepath.Ext(base); ext == ".yaml" || ext == ".yml" {
		app = strings.TrimSuffix(base, ext)
	}
	if app == "index" {
		app = "" // the old single-file format: any app-id
	}
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		dir = filepath.Dir(name)
	}
	return fileCtx{base: base, app: app, dir: dir}
}

// parseDocument parses data and returns the body of its one document: nil
// and ok for an empty file, nil and not ok for invalid YAML or a file over
// lim (reported).
func parseDocument(data []byte, lim pipeline.Limits, r *reporter) (body ast.Node, ok bool) {
	if err := pipeline.CheckYAMLLimits(r.file, data, lim); err != nil {
		var le *pipeline.LimitError
		if errors.As(err, &le) && le.Line > 0 {
			r.errorf(pos{le.Line, le.Col}, "%s", le.Message)
			return nil, false
		}
		r.errorf(pos{1, 1}, "%s", strings.TrimPrefix(err.Error(), r.file+": "))
		return nil, false
	}
	f, err := parseYAML(data)
	if err != nil {
		at, msg := yamlErrorPos(err)
		r.errorf(at, "invalid YAML: %s", msg)
		return nil, false
	}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			r.errorf(posOf(doc.Body), "a second YAML document starts here; the file must hold one document: remove this one and the \"---\" before it, or move it to its own file")
			break
		}
		body = doc.Body
	}
	return body, true
}

// emptyWhy says why a file without a YAML document has no projects.
func emptyWhy(data []byte) string {
	if len(strings.TrimSpace(string(data))) == 0 {
		return "the file is empty"
	}
	return "the file holds only comments"
}

// parseYAML parses data into an AST, turning a parser panic into an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed: %v", p)
		}
	}()
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// yamlErrorPos returns the position and the message of a parser error.
func yamlErrorPos(err error) (pos, string) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		at := pos{1, 1}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
			at = pos{tk.Position.Line, max(tk.Position.Column, 1)}
		}
		return at, yamlHint(ye.GetMessage())
	}
	return pos{1, 1}, err.Error()
}

// yamlHint adds how to fix the parser errors people make most.
func yamlHint(msg string) string {
	switch {
	case strings.Contains(msg, "'\t'"):
		return strings.ReplaceAll(msg, "'\t'", `'\t'`) + "; indent with spaces, not tabs"
	case strings.Contains(msg, "mapping value is not allowed in this context"):
		return msg + `; quote the value if it contains ": "`
	}
	return msg
}

// projectsList returns the entries under the top key, reporting a file
// that is not a mapping with a list under "Projects".
func projectsList(t *tree, body ast.Node, r *reporter) []ast.Node {
	ps, ok := t.pairs(t.resolve(body), 0)
	if !ok {
		hint := ""
		if _, isList := t.resolve(body).(*ast.SequenceNode); isList {
			hint = fmt.Sprintf("; write %q on a line before the list", topKey+":")
		}
		r.errorf(posOf(body), "an index file must be a mapping with the key %q and a list of entries under it, got %s%s",
			topKey, kindOf(t.resolve(body)), hint)
		return nil
	}
	value, keyAt, found := findTopKey(ps, r)
	if !found {
		return nil
	}
	switch v := t.resolve(value).(type) {
	case nil, *ast.NullNode:
		r.warnf(keyAt, "no projects: %q is empty", topKey)
	case *ast.SequenceNode:
		if len(v.Values) == 0 {
			r.warnf(keyAt, "no projects: %q is empty", topKey)
		}
		return v.Values
	default:
		r.errorf(posOf(value), "%q must be a list of entries, each starting with \"- \", got %s", topKey, kindOf(v))
	}
	return nil
}

// findTopKey finds "Projects" among the top-level pairs and reports the
// other keys, except anchored ones (kept to be merged into entries). When
// it is missing, it says so where a misspelt "projects" is, if any.
func findTopKey(ps []pair, r *reporter) (value ast.Node, keyAt pos, found bool) {
	var others []pair
	for _, p := range ps {
		switch {
		case p.key == topKey && found:
			if !p.merged {
				r.errorf(p.keyPos, "key %q is set twice (first on line %d), and upstream read only the last list, dropping the entries of the first without a word; merge the two lists",
					topKey, keyAt.line)
			}
		case p.key == topKey:
			value, keyAt, found = p.value, p.keyPos, true
		case !p.merged && !isAnchor(p.value):
			others = append(others, p)
		}
	}
	reported := found
	for _, p := range others {
		if !reported && suggest(p.key, []string{topKey}) != "" {
			r.errorf(p.keyPos, "missing top-level key %q: found %q instead (keys are case-sensitive)", topKey, p.key)
			reported = true
			continue
		}
		r.warnf(p.keyPos, "unknown top-level key %q is ignored; only %q is read", p.key, topKey)
	}
	if !reported {
		r.errorf(pos{1, 1}, "missing top-level key %q; an index file is \"Projects:\" followed by a list of entries", topKey)
	}
	return value, keyAt, found
}

func isAnchor(n ast.Node) bool {
	_, ok := n.(*ast.AnchorNode)
	return ok
}

// checkIDs reports ids used twice in a file.
func checkIDs(entries []*entry, r *reporter) {
	first := map[int]pos{}
	for _, e := range entries {
		if !e.hasID {
			continue
		}
		if prev, dup := first[e.p.ID]; dup {
			e.bad = true
			r.errorf(e.idAt, "id %d is already used by the entry on line %d; ids must be unique in a file", e.p.ID, prev.line)
			continue
		}
		first[e.p.ID] = e.at
	}
}
