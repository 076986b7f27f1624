package arch

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	"internal/kube":     {"internal/pipeline"},
	"internal/registry": {"internal/pipeline"},
	"internal/checks":   {"internal/pipeline", "internal/checks/imagefs", "internal/checks/cst", "internal/checks/autotest"},
	// the checks adapter's parts
	"internal/checks/imagefs":  {"internal/pipeline"},
	"internal/checks/cst":      {"internal/pipeline", "internal/checks/imagefs"},
	"internal/checks/autotest": {"internal/pipeline"},
	"internal/checks/scan":     {"internal/pipeline", "internal/checks/imagefs"},
	"internal/store/sqlite":    {"internal/pipeline"},
	"internal/store/postgres":  {"internal/pipeline"},
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

	// the executors' behaviour suite (testOnly)
	"internal/pipeline/executortest": {"internal/pipeline"},
}

// testOnly packages may be imported by tests only.
var testOnly = map[string]bool{"internal/testenv": true, "internal/store/storetest": true, "internal/checks/checktest": true, "internal/pipeline/executortest": true}

// domain and core are the packages the external-import rules cover.
var (
	// domain uses the standard library only.
	domain = "internal/pipeline"
	// core reaches engines, registries and databases only through the
	// domain's ports, so it imports no library for them.
	core = []string{"internal/runner", "internal/sched", "internal/server", "internal/reconcile", "internal/notifypolicy", "internal/metrics"}
)

// forbidden are the libraries that belong in adapters only, by import path
// prefix.
var forbidden = []struct {
	what, reaches string
	prefixes      []string
}{
	{"an engine library", "engines", []string{"github.com/moby", "github.com/docker", "github.com/containerd",
		"github.com/containers", "github.com/compose-spec", "k8s.io"}},
	{"a registry library", "registries", []string{"github.com/google/go-containerregistry", "github.com/distribution",
		"github.com/opencontainers/image-spec", "oras.land"}},
	{"an SQL library", "databases", []string{"database/sql", "modernc.org/sqlite", "github.com/mattn/go-sqlite3",
		"github.com/jackc/pgx", "github.com/lib/pq", "github.com/pressly/goose", "github.com/jmoiron/sqlx", "gorm.io"}},
}

func TestImportLayers(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := scan(t, root)
	if len(imports) < 5 {
		t.Fatalf("found only %d packages under %s", len(imports), root)
	}
	for _, v := range check(imports) {
		t.Error(v)
	}
}

// TestCheckFindsViolations runs the check on testdata/violations, a tree
// whose packages break each rule once, and beside them import what they may.
func TestCheckFindsViolations(t *testing.T) {
	got := check(scan(t, filepath.Join("testdata", "violations")))
	want := []string{
		"internal/metrics imports database/sql, an SQL library; the core reaches databases through the domain's ports (see docs/ARCHITECTURE.md)",
		"internal/pipeline imports github.com/moby/moby/client; the domain uses the standard library only (see docs/ARCHITECTURE.md)",
		"internal/pipeline imports internal/engine; it may import only [] (see docs/ARCHITECTURE.md)",
		"internal/runner imports github.com/google/go-containerregistry/pkg/v1/remote, a registry library; the core reaches registries through the domain's ports (see docs/ARCHITECTURE.md)",
		"internal/sched imports github.com/moby/moby/client, an engine library; the core reaches engines through the domain's ports (see docs/ARCHITECTURE.md)",
		"internal/server imports modernc.org/sqlite, an SQL library; the core reaches databases through the domain's ports (see docs/ARCHITECTURE.md)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

// check returns every import of imports that breaks a rule, sorted.
func check(imports map[string]*pkgImports) []string {
	var out []string
	for pkg, deps := range imports {
		if strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "bench") || strings.HasPrefix(pkg, "e2e") || strings.HasPrefix(pkg, "examples/") {
			continue
		}
		allowed, known := layers[pkg]
		if !known {
			out = append(out, fmt.Sprintf("%s is not in the layer table of %s: add it with the packages it may import", pkg, "internal/arch/arch_test.go"))
			continue
		}
		for _, d := range deps.code {
			if !contains(allowed, d) {
				out = append(out, fmt.Sprintf("%s imports %s; it may import only %v (see docs/ARCHITECTURE.md)", pkg, d, allowed))
			}
		}
		out = append(out, checkExternal(pkg, deps.external)...)
	}
	for pkg, deps := range imports {
		if strings.HasPrefix(pkg, "bench") || strings.HasPrefix(pkg, "e2e") {
			continue
		}
		for _, d := range deps.code {
			if testOnly[d] && !testOnly[pkg] { // test helpers may build on each other
				out = append(out, fmt.Sprintf("%s imports the test helper %s outside its tests", pkg, d))
			}
			if strings.HasPrefix(d, "cmd/") {
				out = append(out, fmt.Sprintf("%s imports the command %s", pkg, d))
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkExternal applies the rules on imports from outside the module: the
// domain uses the standard library only; the core no engine, registry or
// SQL library.
func checkExternal(pkg string, external []string) []string {
	var out []string
	for _, d := range external {
		if pkg == domain && !isStd(d) {
			out = append(out, fmt.Sprintf("%s imports %s; the domain uses the standard library only (see docs/ARCHITECTURE.md)", pkg, d))
			continue
		}
		if pkg != domain && !contains(core, pkg) {
			continue
		}
		for _, lib := range forbidden {
			for _, prefix := range lib.prefixes {
				if d == prefix || strings.HasPrefix(d, prefix+"/") {
					out = append(out, fmt.Sprintf("%s imports %s, %s; the core reaches %s through the domain's ports (see docs/ARCHITECTURE.md)",
						pkg, d, lib.what, lib.reaches))
				}
			}
		}
	}
	return out
}

// isStd reports whether path is in the standard library: its first element
// has no dot.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// pkgImports are a package's imports outside its tests: code from this
// module (without the module prefix), and external from elsewhere,
// the standard library included; tests are its tests' imports of this module.
type pkgImports struct{ code, external, tests []string }

// scan reads the imports of every package under root, by folder.
func scan(t *testing.T, root string) map[string]*pkgImports {
	out := map[string]*pkgImports{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
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
		test := strings.HasSuffix(path, "_test.go")
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case !strings.HasPrefix(p, module):
				if !test && !contains(pi.external, p) {
					pi.external = append(pi.external, p)
				}
			case test:
				pi.tests = append(pi.tests, strings.TrimPrefix(p, module))
			case !contains(pi.code, strings.TrimPrefix(p, module)):
				pi.code = append(pi.code, strings.TrimPrefix(p, module))
			}
		}
		sort.Strings(pi.code)
		sort.Strings(pi.external)
		return nil
	})
	if err != nil {
		t.Fatal(err)
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
