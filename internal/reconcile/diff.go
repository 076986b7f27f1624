// Package reconcile keeps the projects in step with a tracked index: it
// reads the index (a folder or a git repository) on an interval or when
// poked by a webhook, works out what changed, applies it (new and changed
// entries are stored and built, removed ones disabled) and records each
// reconcile. An index that does not validate changes nothing.
package reconcile

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Plan is what a reconcile changes.
type Plan struct {
	Put     []pipeline.Project       // new, re-enabled or changed projects, to store and build
	Changed []pipeline.ProjectChange // the changed ones among Put, with their fields
	Added   []string                 // keys of the new or re-enabled ones among Put
	Disable []pipeline.Project       // projects whose entry left the index, already marked Disabled
	Moved   []pipeline.Project       // entries that only moved in their file: stored, not built
	Skipped []string                 // index entries whose key a project registered by API holds
}

// Diff compares the stored projects with the index's entries. Projects
// registered by API or UI are never touched: an index entry with the key of
// one is skipped. Only the origin (file and line) changing is a move, not a
// change.
func Diff(stored, index []pipeline.Project) Plan {
	byKey := make(map[string]pipeline.Project, len(stored))
	for _, p := range stored {
		byKey[p.Key()] = p
	}
	var plan Plan
	inIndex := make(map[string]bool, len(index))
	for _, p := range index {
		key := p.Key()
		inIndex[key] = true
		p.Disabled = false
		old, ok := byKey[key]
		switch {
		case ok && !old.FromIndex():
			plan.Skipped = append(plan.Skipped, key)
		case !ok || old.Disabled:
			plan.Put = append(plan.Put, p)
			plan.Added = append(plan.Added, key)
		default:
			if fields := Fields(old, p); len(fields) > 0 {
				plan.Put = append(plan.Put, p)
				plan.Changed = append(plan.Changed, pipeline.ProjectChange{Key: key, Fields: fields})
			} else if old.Origin != p.Origin {
				plan.Moved = append(plan.Moved, p)
			}
		}
	}
	for _, p := range stored {
		if p.FromIndex() && !p.Disabled && !inIndex[p.Key()] {
			p.Disabled = true
			plan.Disable = append(plan.Disable, p)
		}
	}
	slices.Sort(plan.Added)
	return plan
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Put) == 0 && len(p.Disable) == 0 && len(p.Moved) == 0
}

// Removed lists the keys of the projects the plan disables.
func (p Plan) Removed() []string {
	var keys []string
	for _, d := range p.Disable {
		keys = append(keys, d.Key())
	}
	return keys
}

// Fields lists the fields of an index entry that differ between old and
// next, by their index names, in the index's order. Origin and Disabled are
// not fields of an entry.
func Fields(old, next pipeline.Project) []pipeline.FieldChange {
	pairs := []struct{ name, old, new string }{
		{"id", strconv.Itoa(old.ID), strconv.Itoa(next.ID)},
		{"app-id", old.AppID, next.AppID},
		{"job-id", old.JobID, next.JobID},
		{"git-url", old.GitURL, next.GitURL},
		{"git-branch", old.GitBranch, next.GitBranch},
		{"git-path", old.GitPath, next.GitPath},
		{"target-file", old.TargetFile, next.TargetFile},
		{"desired-tag", old.Tag, next.Tag},
		{"notify-email", old.NotifyEmail, next.NotifyEmail},
		{"notify-success", strconv.FormatBool(old.NotifySuccess), strconv.FormatBool(next.NotifySuccess)},
		{"build-context", old.BuildContext, next.BuildContext},
		{"depends-on", refs(old.DependsOn), refs(next.DependsOn)},
		{"prebuild-script", old.PrebuildScript, next.PrebuildScript},
		{"prebuild-context", old.PrebuildContext, next.PrebuildContext},
		{"schedule", old.Schedule, next.Schedule},
	}
	var out []pipeline.FieldChange
	for _, f := range pairs {
		if f.old != f.new {
			c := pipeline.FieldChange{Field: f.name, Old: f.old, New: f.new}
			if f.name == "git-url" { // the records are shown to anyone who may read
				c.Old, c.New = pipeline.RedactURL(c.Old), pipeline.RedactURL(c.New)
			}
			out = append(out, c)
		}
	}
	return out
}

// refs is a depends-on list as the index writes it: "a/b:1, c:latest".
func refs(rs []pipeline.ImageRef) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
