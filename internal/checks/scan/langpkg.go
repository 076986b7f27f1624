package scan

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/hoistci/hoist/internal/pipeline"
)

// isPythonMetadata reports whether p is a Python distribution's metadata:
// …/site-packages/x.dist-info/METADATA, …/x.egg-info/PKG-INFO, or an
// old-style …/site-packages/x.egg-info file.
func isPythonMetadata(p string) bool {
	dir, file := path.Dir(p), path.Base(p)
	switch {
	case file == "METADATA" && strings.HasSuffix(dir, ".dist-info"),
		file == "PKG-INFO" && strings.HasSuffix(dir, ".egg-info"):
		return isSitePackages(path.Base(path.Dir(dir)))
	case strings.HasSuffix(file, ".egg-info"):
		return isSitePackages(path.Base(dir))
	}
	return false
}

func isSitePackages(dir string) bool { return dir == "site-packages" || dir == "dist-packages" }

// ParsePythonMetadata reads Name, Version and License (or
// License-Expression) from a METADATA or PKG-INFO file. ok is false when
// it names no package.
func ParsePythonMetadata(data []byte, location string) (pipeline.Package, bool) {
	h := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break // the body (description) follows the headers
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(k)
		if _, seen := h[k]; !seen {
			h[k] = strings.TrimSpace(v)
		}
	}
	p := pipeline.Package{Type: "pypi", Name: h["name"], Version: h["version"], Location: location}
	if p.Name == "" || p.Version == "" {
		return p, false
	}
	lic := h["license-expression"]
	if lic == "" {
		lic = h["license"]
	}
	if lic != "" && !strings.EqualFold(lic, "UNKNOWN") && !strings.Contains(lic, "\n") && len(lic) < 200 {
		p.Licenses = []string{lic}
	}
	name := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(p.Name))
	p.PURL = packageurl.NewPackageURL(packageurl.TypePyPi, "", name, p.Version, nil, "").ToString()
	return p, true
}

// isNPMPackageJSON reports whether p is the package.json of a package
// installed in a node_modules folder: node_modules/x/package.json or
// node_modules/@scope/x/package.json (not a file deeper in a package).
func isNPMPackageJSON(p string) bool {
	i := strings.LastIndex(p, "/node_modules/")
	if i < 0 || !strings.HasSuffix(p, "/package.json") {
		return false
	}
	rest := strings.Split(strings.TrimSuffix(p[i+len("/node_modules/"):], "/package.json"), "/")
	switch len(rest) {
	case 1:
		return rest[0] != "" && !strings.HasPrefix(rest[0], ".") && !strings.HasPrefix(rest[0], "@")
	case 2:
		return strings.HasPrefix(rest[0], "@") && rest[1] != ""
	}
	return false
}

// ParseNPMPackageJSON reads name, version and license of a package.json.
func ParseNPMPackageJSON(data []byte, location string) (pipeline.Package, bool, error) {
	var m struct {
		Name     string          `json:"name"`
		Version  string          `json:"version"`
		License  json.RawMessage `json:"license"`
		Licenses []struct {
			Type string `json:"type"`
		} `json:"licenses"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return pipeline.Package{}, false, fmt.Errorf("%s: %v", location, err)
	}
	p := pipeline.Package{Type: "npm", Name: m.Name, Version: m.Version, Location: location}
	if p.Name == "" || p.Version == "" {
		return p, false, nil
	}
	var lic string
	var obj struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(m.License, &lic) != nil && json.Unmarshal(m.License, &obj) == nil {
		lic = obj.Type
	}
	if lic != "" {
		p.Licenses = []string{lic}
	}
	for _, l := range m.Licenses {
		if l.Type != "" {
			p.Licenses = append(p.Licenses, l.Type)
		}
	}
	ns, name := "", p.Name
	if strings.HasPrefix(name, "@") {
		ns, name, _ = strings.Cut(name, "/")
	}
	p.PURL = packageurl.NewPackageURL(packageurl.TypeNPM, ns, name, p.Version, nil, "").ToString()
	return p, true, nil
}

// isGemspec reports whether p is an installed gem's specification:
// …/specifications/name-version.gemspec.
func isGemspec(p string) bool {
	return strings.HasSuffix(p, ".gemspec") && path.Base(path.Dir(p)) == "specifications"
}

var (
	gemName     = regexp.MustCompile(`(?m)^\s*\w+\.name\s*=\s*["']([^"']+)["']`)
	gemVersion  = regexp.MustCompile(`(?m)^\s*\w+\.version\s*=\s*["']([^"']+)["']`)
	gemLicenses = regexp.MustCompile(`(?m)^\s*\w+\.licenses?\s*=\s*\[?([^\n\]]*)`)
	gemQuoted   = regexp.MustCompile(`["']([^"']+)["']`)
)

// ParseGemspec reads name, version and licenses of an installed gem's
// specification, falling back to the file name (name-version.gemspec).
func ParseGemspec(data []byte, location string) (pipeline.Package, bool) {
	p := pipeline.Package{Type: "gem", Location: location}
	if m := gemName.FindSubmatch(data); m != nil {
		p.Name = string(m[1])
	}
	if m := gemVersion.FindSubmatch(data); m != nil {
		p.Version = string(m[1])
	}
	if p.Name == "" || p.Version == "" {
		base := strings.TrimSuffix(path.Base(location), ".gemspec")
		if i := strings.LastIndex(base, "-"); i > 0 {
			if p.Name == "" {
				p.Name = base[:i]
			}
			if p.Version == "" {
				p.Version = base[i+1:]
			}
		}
	}
	if p.Name == "" || p.Version == "" {
		return p, false
	}
	if m := gemLicenses.FindSubmatch(data); m != nil {
		for _, q := range gemQuoted.FindAllSubmatch(m[1], -1) {
			p.Licenses = append(p.Licenses, string(q[1]))
		}
	}
	p.PURL = packageurl.NewPackageURL(packageurl.TypeGem, "", p.Name, p.Version, nil, "").ToString()
	return p, true
}

// goBinary is a Go executable found in the image, with its build info.
type goBinary struct {
	Path  string
	Layer int
	Info  *debug.BuildInfo
}

// readGoBuildInfo reads the build info of the executable at file (a
// temporary copy); ok is false when it is not a Go binary.
func readGoBuildInfo(file string) (*debug.BuildInfo, bool) {
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		return nil, false
	}
	return bi, true
}

// GoPackages lists a Go binary's toolchain ("stdlib" at the Go version),
// main module and dependencies (module replacements as they were built).
func GoPackages(bin string, bi *debug.BuildInfo) []pipeline.Package {
	mod := func(m *debug.Module) pipeline.Package {
		// A module replaced by another module is that one; one replaced
		// by a local folder keeps the name and version it was required at.
		if r := m.Replace; r != nil && !strings.HasPrefix(r.Path, ".") && !strings.HasPrefix(r.Path, "/") {
			m = r
		}
		p := pipeline.Package{Type: "golang", Name: m.Path, Version: m.Version, Location: bin}
		p.PURL = goPURL(m.Path, m.Version)
		return p
	}
	var pkgs []pipeline.Package
	if bi.GoVersion != "" {
		pkgs = append(pkgs, pipeline.Package{
			Type: "golang", Name: "stdlib", Version: bi.GoVersion, Location: bin,
			Licenses: []string{"BSD-3-Clause"},
			PURL:     goPURL("stdlib", bi.GoVersion),
		})
	}
	if bi.Main.Path != "" {
		pkgs = append(pkgs, mod(&bi.Main))
	}
	for _, d := range bi.Deps {
		pkgs = append(pkgs, mod(d))
	}
	return pkgs
}

// goPURL is pkg:golang/<module>@<version>; a "(devel)" version (a build
// outside version control) is left out.
func goPURL(module, version string) string {
	ns, name := path.Split(module)
	if version == "(devel)" {
		version = ""
	}
	return packageurl.NewPackageURL(packageurl.TypeGolang, strings.TrimSuffix(ns, "/"), name, version, nil, "").ToString()
}
