package index

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml/ast"

	"github.com/hoistci/hoist/internal/pipeline"
)

// FuzzParseFile checks that no input makes ParseFile panic and that every
// project it returns is one the pipeline can use. The file is named
// index.yml so that any app-id is allowed and the real entries get through.
func FuzzParseFile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(fixture, "index.d", "*.y*ml"))
	for _, c := range malformedCases(f) {
		filepath.WalkDir(c, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, "ml") {
				seeds = append(seeds, p)
			}
			return nil
		})
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, h := range hostile {
		f.Add([]byte(h.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var projects []pipeline.Project
		var diags []Diagnostic
		checkAlloc(t, func() { projects, diags = ParseFile("index.yml", data) })
		for _, d := range diags {
			if d.File != "index.yml" || d.Line < 0 || d.Col < 0 || (d.Line > 0 && d.Col == 0) || d.Message == "" {
				t.Errorf("bad diagnostic %#v", d)
			}
		}
		for _, p := range projects {
			checkProject(t, p)
		}
		checkAlloc(t, func() { _, _ = ParseRepoConfig("cccp.yml", data) })
	})
}

// maxAlloc is what one fuzz input may allocate: hoist index validate of
// the worst file within pipeline's limits peaks near 70 MB.
const maxAlloc = 100 << 20

// checkAlloc fails t when f allocates more than maxAlloc.
func checkAlloc(t *testing.T, f func()) {
	t.Helper()
	if n := allocated(f); n > maxAlloc {
		t.Fatalf("one input allocated %d MB, over %d MB", n>>20, maxAlloc>>20)
	}
}

// checkProject fails t when p breaks what Project promises.
func checkProject(t *testing.T, p pipeline.Project) {
	t.Helper()
	if !pipeline.ValidName(p.AppID) || !pipeline.ValidName(p.JobID) || !pipeline.ValidTag(p.Tag) {
		t.Errorf("invalid image %q/%q:%q", p.AppID, p.JobID, p.Tag)
	}
	if c, err := pipeline.CleanRel(p.GitPath); err != nil || c != p.GitPath {
		t.Errorf("git-path %q not clean: %q, %v", p.GitPath, c, err)
	}
	for _, rel := range []string{p.TargetFile, p.BuildContext} {
		if _, err := pipeline.JoinRel(p.GitPath, rel); err != nil {
			t.Errorf("path escapes: %v", err)
		}
	}
	for _, rel := range []string{p.PrebuildScript, p.PrebuildContext} {
		if _, err := pipeline.CleanRel(rel); err != nil {
			t.Errorf("prebuild path escapes: %v", err)
		}
	}
	if (p.PrebuildScript == "") != (p.PrebuildContext == "") {
		t.Errorf("prebuild-script %q without context %q or back", p.PrebuildScript, p.PrebuildContext)
	}
	if p.GitURL == "" || p.GitBranch == "" || p.TargetFile == "" {
		t.Errorf("missing git-url, git-branch or target-file: %+v", p)
	}
	for _, d := range p.DependsOn {
		if d.String() == p.Key() {
			t.Errorf("%s depends on itself", p.Key())
		}
	}
}

// FuzzYAMLLimits: when pipeline.CheckYAMLLimits accepts a file under small
// limits, goccy's tree of it is no deeper and not much larger, so that the
// lexical pass never counts less than the parser builds.
func FuzzYAMLLimits(f *testing.F) {
	for _, h := range hostile {
		f.Add([]byte(h.data[:min(len(h.data), 2000)]))
	}
	for _, s := range []string{
		"a: !!str |\n  '\nb: [[[[[[[[[[]]]]]]]]]]\n", "- - - - - - - - - - x\n", "a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n        i: j\n",
		"? [[[[[[[[[[x]]]]]]]]]]\n: y\n", "a: {b: {c: {d: {e: {f: {g: {h: {i: {j: 1}}}}}}}}}\n", "a: \"x\n  [[[[[[[[[[\"\n", "a: >\n  - - - - - - - - - -\nb: 1\n",
	} {
		f.Add([]byte(s))
	}
	lim := pipeline.Limits{MaxDepth: 8, MaxNodes: 200, MaxAliases: 10, MaxNumber: 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		if pipeline.CheckYAMLLimits("f.yml", data, lim) != nil {
			return
		}
		file, err := parseYAML(data)
		if err != nil {
			return
		}
		for _, doc := range file.Docs {
			if doc == nil {
				continue
			}
			depth, nodes := measureAST(doc.Body, 0)
			if depth > lim.MaxDepth || nodes > 3*lim.MaxNodes {
				t.Fatalf("accepted, but goccy's tree is %d deep with %d nodes", depth, nodes)
			}
		}
	})
}

// measureAST returns how deep mappings and lists nest under n, and how
// many nodes it holds.
func measureAST(n ast.Node, level int) (depth, nodes int) {
	if level > 1000 {
		return level, 1
	}
	var kids []ast.Node
	depth = level
	switch v := n.(type) {
	case nil:
		return level, 0
	case *ast.MappingNode:
		depth++
		for _, mv := range v.Values {
			kids = append(kids, mv)
		}
	case *ast.SequenceNode:
		depth++
		kids = v.Values
	case *ast.MappingValueNode:
		kids = []ast.Node{v.Key, v.Value}
	case *ast.MappingKeyNode:
		kids = []ast.Node{v.Value}
	case *ast.AnchorNode:
		kids = []ast.Node{v.Value}
	case *ast.TagNode:
		kids = []ast.Node{v.Value}
	}
	nodes = 1
	deepest := depth
	for _, k := range kids {
		d, c := measureAST(k, depth)
		deepest, nodes = max(deepest, d), nodes+c
	}
	return deepest, nodes
}
