// Package scan inventories an image — OS and language packages, Go
// modules, the capabilities its run labels ask for, the updates its own
// package manager offers, an external CVE scanner's report — and builds a
// CycloneDX SBOM of it. It reads the image once, from the registry, so it
// needs no engine (except for updates) and works on FROM scratch images.
package scan

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Options tune a Scanner.
type Options struct {
	// CVECommand is an external scanner: argv, where "{image}" is replaced
	// by the image reference (also given as $HOIST_IMAGE, with
	// $HOIST_DIGEST); it must print JSON on stdout. Empty: the cve scanner
	// is n/a ("no CVE scanner configured").
	CVECommand     []string
	CVETimeout     time.Duration // default 10 min
	UpdatesTimeout time.Duration // default 2 min
}

// Scanner implements pipeline.Scanner.
type Scanner struct {
	layers     pipeline.LayerReader
	containers pipeline.Containers // nil: updates are n/a
	opts       Options
	now        func() time.Time
}

var _ pipeline.Scanner = (*Scanner)(nil)

// New returns a Scanner that reads images through layers and runs the
// package manager's update query through containers (which may be nil).
func New(layers pipeline.LayerReader, containers pipeline.Containers, opts Options) *Scanner {
	if opts.CVETimeout <= 0 {
		opts.CVETimeout = 10 * time.Minute
	}
	if opts.UpdatesTimeout <= 0 {
		opts.UpdatesTimeout = 2 * time.Minute
	}
	return &Scanner{layers: layers, containers: containers, opts: opts, now: time.Now}
}

// The scanners, in the order they report.
const (
	ScannerOSPackages       = "os-packages"
	ScannerLanguagePackages = "language-packages"
	ScannerCapabilities     = "capabilities"
	ScannerUpdates          = "updates"
	ScannerCVE              = "cve"
)

// Scan implements pipeline.Scanner.
func (s *Scanner) Scan(ctx context.Context, spec pipeline.ScanSpec, log io.Writer) (pipeline.ScanReport, error) {
	rep := pipeline.ScanReport{Image: spec.Image, Digest: spec.Digest}
	cfg, err := s.layers.RemoteConfig(ctx, spec.Image)
	if err != nil {
		return rep, fmt.Errorf("scanning %s: reading its configuration from the registry: %w", spec.Image, err)
	}
	// The report tells what was scanned: the registry's digest for the
	// reference, when it has one.
	if cfg.Digest != "" && cfg.Digest != rep.Digest {
		if rep.Digest != "" && log != nil {
			fmt.Fprintf(log, "warning: %s is now %s, not %s as asked; scanning %s\n", spec.Image, cfg.Digest, rep.Digest, cfg.Digest)
		}
		rep.Digest = cfg.Digest
	}
	img, err := readImage(ctx, s.layers, spec.Image)
	if err != nil {
		return rep, fmt.Errorf("scanning %s: %w", spec.Image, err)
	}

	osRes := safely(ScannerOSPackages, func() pipeline.ScannerResult { return osPackages(img) })
	langRes := safely(ScannerLanguagePackages, func() pipeline.ScannerResult { return languagePackages(img) })
	capRes := safely(ScannerCapabilities, func() pipeline.ScannerResult { return ScanCapabilities(cfg.Labels) })
	// The two that run something outside run side by side.
	var updRes, cveRes pipeline.ScannerResult
	var wg sync.WaitGroup
	wg.Go(func() {
		updRes = safely(ScannerUpdates, func() pipeline.ScannerResult {
			return s.checkUpdates(ctx, spec, img, osRes.Packages)
		})
	})
	wg.Go(func() {
		cveRes = safely(ScannerCVE, func() pipeline.ScannerResult { return s.runCVE(ctx, spec.Image, rep.Digest) })
	})
	wg.Wait()
	rep.Results = []pipeline.ScannerResult{osRes, langRes, capRes, updRes, cveRes}

	all := append(append([]pipeline.Package(nil), osRes.Packages...), langRes.Packages...)
	sbom, sbomErr := BuildSBOM(spec.Image, rep.Digest, all, s.now())
	rep.SBOM = sbom
	writeSummary(log, rep, len(all), sbomErr)
	if sbomErr != nil {
		return rep, fmt.Errorf("scanning %s: %w", spec.Image, sbomErr)
	}
	return rep, nil
}

// safely runs one scanner, turning a panic into its error result: one
// scanner's failure never stops the others nor hides its own result.
func safely(name string, fn func() pipeline.ScannerResult) (res pipeline.ScannerResult) {
	defer func() {
		if r := recover(); r != nil {
			res = pipeline.ScannerResult{Scanner: name, Status: pipeline.ScanError, Detail: fmt.Sprintf("the %s scanner crashed: %v", name, r)}
		}
	}()
	res = fn()
	res.Scanner = name
	return res
}

// osPackages reads the dpkg, apk and rpm databases.
func osPackages(img *image) pipeline.ScannerResult {
	res := pipeline.ScannerResult{Status: pipeline.ScanOK}
	distro := img.distro()
	var found []string
	var errs []string
	count := func(kind string, n int) { found = append(found, fmt.Sprintf("%s %d", kind, n)) }

	if data, ok := img.files[dpkgStatus]; ok {
		p := ParseDpkgStatus(data, dpkgStatus, distro, false)
		res.Packages = append(res.Packages, p...)
		count("dpkg", len(p))
	}
	if names := img.under(dpkgStatusD); len(names) > 0 {
		n := 0
		for _, name := range names {
			if strings.HasSuffix(name, ".md5sums") {
				continue
			}
			p := ParseDpkgStatus(img.files[name], name, distro, true)
			res.Packages = append(res.Packages, p...)
			n += len(p)
		}
		count("dpkg status.d", n)
	}
	if data, ok := img.files[apkDB]; ok {
		p := ParseApkInstalled(data, apkDB, distro)
		res.Packages = append(res.Packages, p...)
		count("apk", len(p))
	}
	for _, dir := range rpmDirs {
		for _, f := range rpmFiles {
			name := dir + f
			data, ok := img.files[name]
			if !ok {
				continue
			}
			p, err := ParseRpmDB(data, name, distro)
			if err != nil {
				errs = append(errs, err.Error())
			}
			res.Packages = append(res.Packages, p...)
			count("rpm "+name, len(p))
			break // the first database of a folder is the live one
		}
	}
	errs = append(errs, img.readErrors(func(p string) bool { return !isLanguageFile(p) })...)
	switch {
	case len(errs) > 0:
		res.Status = pipeline.ScanError
		res.Detail = strings.Join(errs, "\n")
		if len(found) > 0 {
			res.Detail = fmt.Sprintf("%d package(s) (%s); but:\n%s", len(res.Packages), strings.Join(found, ", "), res.Detail)
		}
	case len(found) == 0:
		res.Status = pipeline.ScanNA
		res.Detail = "no dpkg, apk or rpm database in the image"
	default:
		res.Detail = fmt.Sprintf("%d package(s): %s", len(res.Packages), strings.Join(found, ", "))
		if distro.ID != "" {
			res.Detail += "; distro " + distro.qualifier()
		}
	}
	return res
}

// languagePackages lists pip, npm and gem packages and the Go modules of
// the image's Go binaries.
func languagePackages(img *image) pipeline.ScannerResult {
	res := pipeline.ScannerResult{Status: pipeline.ScanOK}
	n := map[string]int{}
	var errs []string
	for _, name := range img.names() {
		data := img.files[name]
		switch {
		case isPythonMetadata(name):
			if p, ok := ParsePythonMetadata(data, name); ok {
				res.Packages = append(res.Packages, p)
				n["pip"]++
			}
		case isNPMPackageJSON(name):
			p, ok, err := ParseNPMPackageJSON(data, name)
			if err != nil {
				errs = append(errs, err.Error())
			} else if ok {
				res.Packages = append(res.Packages, p)
				n["npm"]++
			}
		case isGemspec(name):
			if p, ok := ParseGemspec(data, name); ok {
				res.Packages = append(res.Packages, p)
				n["gem"]++
			}
		}
	}
	errs = append(errs, img.readErrors(isLanguageFile)...)
	for _, b := range img.goBins {
		res.Packages = append(res.Packages, GoPackages(b.Path, b.Info)...)
		n["go binaries"]++
	}
	var found []string
	for _, k := range []string{"pip", "npm", "gem", "go binaries"} {
		if n[k] > 0 {
			found = append(found, fmt.Sprintf("%s %d", k, n[k]))
		}
	}
	switch {
	case len(errs) > 0:
		res.Status = pipeline.ScanError
		res.Detail = fmt.Sprintf("%d package(s) (%s); but could not read:\n%s", len(res.Packages), strings.Join(found, ", "), strings.Join(errs, "\n"))
	case len(res.Packages) == 0:
		res.Status = pipeline.ScanNA
		res.Detail = "no pip, npm, gem or Go packages in the image"
	default:
		res.Detail = fmt.Sprintf("%d package(s): %s", len(res.Packages), strings.Join(found, ", "))
	}
	return res
}

// writeSummary writes one block per scanner to log.
func writeSummary(log io.Writer, rep pipeline.ScanReport, pkgs int, sbomErr error) {
	if log == nil {
		return
	}
	fmt.Fprintf(log, "scanned %s (%s)\n", rep.Image, rep.Digest)
	for _, r := range rep.Results {
		detail := strings.ReplaceAll(r.Detail, "\n", "\n      ")
		fmt.Fprintf(log, "  %-18s %-5s %s\n", r.Scanner, r.Status, detail)
		extra := []string{}
		if len(r.Updates) > 0 {
			for _, u := range r.Updates {
				extra = append(extra, fmt.Sprintf("update %s %s -> %s", u.Name, u.Installed, u.Available))
			}
		}
		for _, f := range r.Findings {
			extra = append(extra, fmt.Sprintf("%s %s %s: %s", f.Severity, f.ID, f.Location, f.Message))
		}
		const maxLines = 20
		for i, e := range extra {
			if i == maxLines {
				fmt.Fprintf(log, "      … and %d more\n", len(extra)-maxLines)
				break
			}
			fmt.Fprintf(log, "      %s\n", e)
		}
	}
	if sbomErr != nil {
		fmt.Fprintf(log, "  %-18s %-5s %v\n", "sbom", pipeline.ScanError, sbomErr)
		return
	}
	fmt.Fprintf(log, "  %-18s %-5s CycloneDX %s, %d package(s), %d bytes\n", "sbom", pipeline.ScanOK, SBOMSpecVersion, pkgs, len(rep.SBOM))
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
