package index

import (
	"fmt"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checkSet applies the rules that span entries, marking the entries that
// break them: an image built by two entries and depends-on cycles. An entry
// depending on its own image is only warned about, and that reference
// dropped. With whole set (the complete index), it also warns about
// depends-on naming an image no entry builds.
func checkSet(entries []*entry, whole bool) []Diagnostic {
	var diags []Diagnostic
	report := func(e *entry, s Severity, at pos, format string, args ...any) {
		if s == Error {
			e.bad = true
		}
		diags = append(diags, Diagnostic{File: e.p.Origin.File, Line: at.line, Col: at.col,
			Severity: s, Message: fmt.Sprintf(format, args...)})
	}
	byKey := checkDuplicates(entries, report)
	checkSelf(entries, report)
	checkCycles(entries, byKey, report)
	if whole {
		checkMissing(entries, byKey, report)
	}
	return diags
}

type reportFunc func(e *entry, s Severity, at pos, format string, args ...any)

// checkDuplicates reports every entry whose image an earlier entry builds,
// and returns the first entry of each image.
func checkDuplicates(entries []*entry, report reportFunc) map[string]*entry {
	byKey := map[string]*entry{}
	for _, e := range entries {
		if !e.keyOK {
			continue
		}
		first, dup := byKey[e.p.Key()]
		if !dup {
			byKey[e.p.Key()] = e
			continue
		}
		where := fmt.Sprintf("line %d", first.at.line)
		if first.p.Origin.File != e.p.Origin.File {
			where = fmt.Sprintf("%s:%d", first.p.Origin.File, first.at.line)
		}
		report(e, Error, e.at, "image %s is already built by the entry on %s; (app-id, job-id, desired-tag) must be unique: change desired-tag or remove one entry",
			e.p.Key(), where)
	}
	return byKey
}

// checkSelf warns about entries whose depends-on names their own image and
// drops that reference. Upstream handed it to its build trigger, where a job
// triggering itself did nothing; the real index's centos/centos:7 (2019–2023)
// has it. Longer cycles stay errors (checkCycles).
func checkSelf(entries []*entry, report reportFunc) {
	for _, e := range entries {
		if !e.keyOK {
			continue
		}
		self := e.p.Key()
		var kept []dep
		for _, d := range e.deps {
			if d.ref.String() != self {
				kept = append(kept, d)
				continue
			}
			report(e, Warning, d.at, "depends-on names this entry's own image %s, which is ignored: an image cannot be its own parent; remove this reference",
				self)
		}
		if len(kept) == len(e.deps) {
			continue
		}
		e.deps = kept
		e.p.DependsOn = nil
		for _, d := range kept {
			e.p.DependsOn = append(e.p.DependsOn, d.ref)
		}
	}
}

// checkCycles reports every entry on a depends-on cycle, at the reference
// that leads to the next entry on it.
func checkCycles(entries []*entry, byKey map[string]*entry, report reportFunc) {
	var ps []pipeline.Project
	for _, e := range entries {
		if byKey[e.p.Key()] != e {
			continue
		}
		p := e.p
		p.DependsOn = nil
		for _, d := range e.deps {
			if d.ref.String() != p.Key() {
				p.DependsOn = append(p.DependsOn, d.ref)
			}
		}
		ps = append(ps, p)
	}
	_, cycles := pipeline.Order(ps)
	for _, c := range cycles {
		for i := 0; i+1 < len(c); i++ {
			e := byKey[c[i]]
			path := append(append([]string{}, c[i:len(c)-1]...), c[:i+1]...)
			report(e, Error, depPos(e, c[i+1]), "depends-on cycle %s; an image cannot be built before itself: remove one of these depends-on",
				strings.Join(path, " -> "))
		}
	}
}

// depPos is where e's depends-on names key, or e itself.
func depPos(e *entry, key string) pos {
	for _, d := range e.deps {
		if d.ref.String() == key {
			return d.at
		}
	}
	return e.at
}

// checkMissing warns about depends-on naming an image no entry builds.
func checkMissing(entries []*entry, byKey map[string]*entry, report reportFunc) {
	for _, e := range entries {
		for _, d := range e.deps {
			if _, ok := byKey[d.ref.String()]; !ok {
				report(e, Warning, d.at, "depends-on %s: no entry in this index builds it, so it must already be in the registry and changes to it will not trigger a rebuild",
					d.ref)
			}
		}
	}
}
