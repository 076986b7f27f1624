package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the results table.
type row struct {
	name     string
	hoist    []time.Duration // samples; nil shows "-"
	baseline []time.Duration
	ratio    string // says what it divides, e.g. "hoist/baseline = 1.21"
}

// report is the table and how each row was measured.
type report struct {
	rows []row
	how  []string // one line per benchmark
	info []string // lines printed above the table
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	} else {
		return s[n/2]
	}
}

// ratio formats a/b (of medians) with the names of what it divides.
func ratio(label string, a, b []time.Duration) string {
	ma, mb := median(a), median(b)
	if mb == 0 || len(a) == 0 {
		return ""
	}
	return label + " = " + fmtRatio(float64(ma)/float64(mb))
}

func fmtRatio(r float64) string {
	switch {
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	case r >= 0.01:
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.2g", r)
}

// fmtDur prints a duration with three significant digits: 3.62s, 45.1ms.
func fmtDur(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func cell(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return fmtDur(median(ds))
}

// samples lists every sample, for the "how measured" lines.
func samples(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmtDur(d)
	}
	return strings.Join(s, " ")
}

// write prints the table and the notes.
func (r *report) write(w io.Writer, rounds int) {
	for _, l := range r.info {
		fmt.Fprintln(w, l)
	}
	if len(r.info) > 0 {
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintf(tw, "benchmark (median of %d rounds)\thoist\tbaseline\tratio (of the medians)\n", rounds)
	for _, x := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.name, cell(x.hoist), cell(x.baseline), x.ratio)
	}
	tw.Flush()
	if len(r.how) > 0 {
		fmt.Fprintln(w, "\nhow each was measured:")
		for _, l := range r.how {
			fmt.Fprintln(w, "  "+l)
		}
	}
}
