package index

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Severity says whether a Diagnostic stops an entry from being built.
type Severity int

// The severities of a Diagnostic.
const (
	// Error leaves the entry it is about out of Result.Projects.
	Error Severity = iota
	// Warning is printed but changes nothing.
	Warning
)

// String is "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in an index file, at a 1-based line and
// column. Line 0 means the problem concerns the whole file or folder.
type Diagnostic struct {
	File      string
	Line, Col int
	Severity  Severity
	Message   string
}

// String is "path:line:col: message" for errors and
// "path:line:col: warning: message" for warnings.
func (d Diagnostic) String() string {
	where := d.File
	if d.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Col)
	}
	if d.Severity == Warning {
		return where + ": warning: " + d.Message
	}
	return where + ": " + d.Message
}

// Error makes a Diagnostic usable as an error; it returns String.
func (d Diagnostic) Error() string { return d.String() }

// Result is what Load found: the valid projects, every diagnostic, and how
// many files it read.
type Result struct {
	// Projects holds every entry without an error, in file order.
	Projects []pipeline.Project
	// Diagnostics holds every problem, sorted by file, line and column.
	Diagnostics []Diagnostic
	// Files is the number of index files read.
	Files int
}

// HasErrors reports whether any diagnostic is an error.
func (r *Result) HasErrors() bool { return len(r.Errors()) > 0 }

// Errors returns the diagnostics that are errors.
func (r *Result) Errors() []Diagnostic { return r.filter(Error) }

// Warnings returns the diagnostics that are warnings.
func (r *Result) Warnings() []Diagnostic { return r.filter(Warning) }

func (r *Result) filter(s Severity) []Diagnostic {
	var out []Diagnostic
	for _, d := range r.Diagnostics {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// sortDiagnostics orders ds by file, line, column and severity, keeping the
// order they were found in otherwise.
func sortDiagnostics(ds []Diagnostic) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Severity, b.Severity),
		)
	})
}

// pos is a 1-based line and column in a file.
type pos struct{ line, col int }

// reporter collects the diagnostics of one file.
type reporter struct {
	file  string
	diags []Diagnostic
}

func (r *reporter) add(s Severity, at pos, format string, args ...any) {
	r.diags = append(r.diags, Diagnostic{
		File: r.file, Line: at.line, Col: at.col, Severity: s,
		Message: fmt.Sprintf(format, args...),
	})
}

func (r *reporter) errorf(at pos, format string, args ...any) {
	r.add(Error, at, format, args...)
}

func (r *reporter) warnf(at pos, format string, args ...any) {
	r.add(Warning, at, format, args...)
}
