package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hoistci/hoist/"

// layers says which of Hoist's packages each package may import outside its
// tests. The domain is the floor; adapters import only the domain; the core
// (runner, sched, metrics, server) imports the domain and other core
// packages; only cmd/hoist imports everything.
var layers = map[string][]string{
	"internal/pipeline": nil,
	"internal/testenv":  nil,
	// adapters
	"internal/index":    {"internal/pipeline"},
	"internal/source":   {"internal/pipeline"},
	"internal/script":   {"internal/pipeline"},
	"internal/engine":   {"internal/pipeline"},
	"internal/registry": {"internal/pipeline"},
	"internal/checks":   {"internal/pipeline", "internal/checks/imagefs", "internal/checks/cst", "internal/checks/autotest"},
	// the checks adapter's parts
	"internal/checks/imagefs":  {"internal/pipeline"},
	"internal/checks/cst":      {"internal/pipeline", "internal/checks/imagefs"},
	"internal/checks/autotest": {"internal/pipeline"},
	"internal/checks/scan":     {"internal/pipeline", "internal/checks/imagefs"},
	"internal/store/sqlite":    {"internal/pipeline"},
	"internal/dockerfile":      {"internal/pipeline"},
	"internal/notify":          {"internal/pipeline"},
	// the checks adapter's test helper (testOnly)
	"internal/checks/checktest": {"internal/pipeline", "internal/engine", "internal/registry", "internal/testenv"},
	// the core
	"internal/store/storetest": {"internal/pipeline"},
	"internal/runner":          {"internal/pipeline"},
	"internal/sched":           {"internal/pipeline"},
	"internal/reconcile":       {"internal/pipeline"},
	"internal/metrics":         {"internal/pipeline"},
	"internal/server":          {"internal/pipeline"},
	"internal/notifypolicy":    {"internal/pipeline"},
	"internal/arch":            nil,
}

// testOnly packages may be imported by tests only.
var testOnly = map[string]bool{"internal/testenv": true, "internal/store/storetest": true, "internal/checks/checktest": true}

func TestImportLayers(t *testing.T) {
	imports := scan(t)
	for pkg, deps := range imports {
		if strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "bench") || strings.HasPrefix(pkg, "e2e") || strings.HasPrefix(pkg, "examples/") {
			continue
		}
		allowed, known := layers[pkg]
		if !known {
			t.Errorf("%s is not in the layer table of %s: add it with the packages it may import", pkg, "internal/arch/arch_test.go")
			continue
		}
		for _, d := range deps.code {
			if !contains(allowed, d) {
				t.Errorf("%s imports %s; it may import only %v (see docs/ARCHITECTURE.md)", pkg, d, allowed)
			}
		}
	}
	for pkg, deps := range imports {
		if strings.HasPrefix(pkg, "bench") || strings.HasPrefix(pkg, "e2e") {
			continue
		}
		for _, d := range deps.code {
			if testOnly[d] && !testOnly[pkg] { // test helpers may build on each other
				t.Errorf("%s imports the test helper %s outside its tests", pkg, d)
			}
			if strings.HasPrefix(d, "cmd/") {
				t.Errorf("%s imports the command %s", pkg, d)
			}
		}
	}
}

type pkgImports struct{ code, tests []string }

// scan reads the imports of every package of the module, by folder.
func scan(t *testing.T) map[string]*pkgImports {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pkgImports{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "hoist-data") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pi := out[rel]
		if pi == nil {
			pi = &pkgImports{}
			out[rel] = pi
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			p = strings.TrimPrefix(p, module)
			if strings.HasSuffix(path, "_test.go") {
				pi.tests = append(pi.tests, p)
			} else if !contains(pi.code, p) {
				pi.code = append(pi.code, p)
			}
		}
		sort.Strings(pi.code)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("found only %d packages under %s", len(out), root)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
