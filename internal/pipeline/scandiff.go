package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// PackageChange is a package whose version changed between two scans.
type PackageChange struct {
	Type, Name string
	From, To   string
}

// ScannerChange is a scanner whose status changed between two scans.
type ScannerChange struct {
	Scanner  string
	From, To ScanStatus
	Detail   string // the new detail
}

// ScanDiff is what changed between two scans of an image.
type ScanDiff struct {
	Added    []Package // in the new scan only
	Removed  []Package // in the old scan only
	Changed  []PackageChange
	Updates  []PackageUpdate // updates offered now that were not before
	Findings []Finding       // findings new in this scan
	Resolved []Finding       // findings the old scan had and this one has not
	Scanners []ScannerChange
}

// Empty reports whether nothing changed.
func (d ScanDiff) Empty() bool {
	return len(d.Added)+len(d.Removed)+len(d.Changed)+len(d.Updates)+len(d.Findings)+len(d.Resolved)+len(d.Scanners) == 0
}

// Summary says what changed in one line: "2 packages added, 1 upgraded, 1
// new finding", or "no changes".
func (d ScanDiff) Summary() string {
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(len(d.Added), "package added", "packages added")
	add(len(d.Removed), "package removed", "packages removed")
	add(len(d.Changed), "package changed version", "packages changed version")
	add(len(d.Updates), "new update available", "new updates available")
	add(len(d.Findings), "new finding", "new findings")
	add(len(d.Resolved), "finding resolved", "findings resolved")
	add(len(d.Scanners), "scanner changed status", "scanners changed status")
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// DiffScans compares two scans of an image, old first. Packages are matched
// by type, name, arch and location's ecosystem; findings by scanner, id,
// message and location.
func DiffScans(old, cur ScanReport) ScanDiff {
	var d ScanDiff
	type pkey struct{ typ, name, arch string }
	pk := func(p Package) pkey { return pkey{p.Type, p.Name, p.Arch} }
	oldPkgs := map[pkey][]Package{}
	for _, res := range old.Results {
		for _, p := range res.Packages {
			oldPkgs[pk(p)] = append(oldPkgs[pk(p)], p)
		}
	}
	curPkgs := map[pkey][]Package{}
	for _, res := range cur.Results {
		for _, p := range res.Packages {
			curPkgs[pk(p)] = append(curPkgs[pk(p)], p)
		}
	}
	for k, ps := range curPkgs {
		olds, ok := oldPkgs[k]
		switch {
		case !ok:
			d.Added = append(d.Added, ps...)
		case versions(olds) != versions(ps):
			d.Changed = append(d.Changed, PackageChange{Type: k.typ, Name: k.name, From: versions(olds), To: versions(ps)})
		}
	}
	for k, ps := range oldPkgs {
		if _, ok := curPkgs[k]; !ok {
			d.Removed = append(d.Removed, ps...)
		}
	}

	type ukey struct{ name, available string }
	oldUpd := map[ukey]bool{}
	for _, res := range old.Results {
		for _, u := range res.Updates {
			oldUpd[ukey{u.Name, u.Available}] = true
		}
	}
	for _, res := range cur.Results {
		for _, u := range res.Updates {
			if !oldUpd[ukey{u.Name, u.Available}] {
				d.Updates = append(d.Updates, u)
			}
		}
	}

	type fkey struct{ scanner, id, msg, loc string }
	findings := func(r ScanReport) map[fkey]Finding {
		m := map[fkey]Finding{}
		for _, res := range r.Results {
			for _, f := range res.Findings {
				m[fkey{res.Scanner, f.ID, f.Message, f.Location}] = f
			}
		}
		return m
	}
	oldF, curF := findings(old), findings(cur)
	for k, f := range curF {
		if _, ok := oldF[k]; !ok {
			d.Findings = append(d.Findings, f)
		}
	}
	for k, f := range oldF {
		if _, ok := curF[k]; !ok {
			d.Resolved = append(d.Resolved, f)
		}
	}

	for _, res := range cur.Results {
		prev, ok := old.Result(res.Scanner)
		if !ok || prev.Status != res.Status {
			ch := ScannerChange{Scanner: res.Scanner, To: res.Status, Detail: res.Detail}
			if ok {
				ch.From = prev.Status
			}
			d.Scanners = append(d.Scanners, ch)
		}
	}
	d.sort()
	return d
}

// versions is the sorted, distinct versions of ps, joined.
func versions(ps []Package) string {
	seen := map[string]bool{}
	var vs []string
	for _, p := range ps {
		if !seen[p.Version] {
			seen[p.Version] = true
			vs = append(vs, p.Version)
		}
	}
	sort.Strings(vs)
	return strings.Join(vs, ", ")
}

func (d *ScanDiff) sort() {
	byPkg := func(ps []Package) {
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].Type != ps[j].Type {
				return ps[i].Type < ps[j].Type
			}
			if ps[i].Name != ps[j].Name {
				return ps[i].Name < ps[j].Name
			}
			return ps[i].Location < ps[j].Location
		})
	}
	byPkg(d.Added)
	byPkg(d.Removed)
	sort.Slice(d.Changed, func(i, j int) bool {
		if d.Changed[i].Type != d.Changed[j].Type {
			return d.Changed[i].Type < d.Changed[j].Type
		}
		return d.Changed[i].Name < d.Changed[j].Name
	})
	sort.Slice(d.Updates, func(i, j int) bool { return d.Updates[i].Name < d.Updates[j].Name })
	byFinding := func(fs []Finding) {
		sort.Slice(fs, func(i, j int) bool {
			if fs[i].Location != fs[j].Location {
				return fs[i].Location < fs[j].Location
			}
			return fs[i].Message < fs[j].Message
		})
	}
	byFinding(d.Findings)
	byFinding(d.Resolved)
}
