package main

import (
	"fmt"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// unordered is a project pipeline.Order left out, and why it cannot build.
type unordered struct {
	project pipeline.Project
	reason  string
}

// describeCycles explains what pipeline.Order left out of order: a line per
// cycle of the image graph g (depends-on and the FROM lines recorded by the
// last builds), and for every project of all that is not in order, the
// reason it is not built: it is on a cycle, or builds on a project that is.
func describeCycles(g *pipeline.Graph, all, order []pipeline.Project, cycles [][]string) (lines []string, left []unordered) {
	ordered := make(map[string]bool, len(order))
	for _, p := range order {
		ordered[p.Key()] = true
	}
	onCycle := map[string]string{} // key → its cycle, written out
	for _, c := range cycles {
		text := cycleText(g, c)
		lines = append(lines, "cycle in the image graph: "+text+
			"; an image cannot be built before itself: remove a depends-on or change a Dockerfile's FROM to break it")
		for _, k := range c {
			if _, ok := onCycle[k]; !ok {
				onCycle[k] = text
			}
		}
	}
	for _, p := range all {
		k := p.Key()
		if ordered[k] {
			continue
		}
		if text, ok := onCycle[k]; ok {
			left = append(left, unordered{p, "on a cycle: " + text})
			continue
		}
		reason := "builds on a project on a cycle"
		for _, parent := range g.Parents(k) {
			if !ordered[parent] {
				reason = "parent " + parent + " is on a cycle or builds on one"
				if _, ok := onCycle[parent]; ok {
					reason = "parent " + parent + " is on a cycle"
				}
				break
			}
		}
		left = append(left, unordered{p, reason})
	}
	return lines, left
}

// cycleText writes a cycle as pipeline.Order returns it (each key builds on
// the next, the first key again last) with the edges' kinds:
// "a builds on b (FROM), which builds on a (depends-on)".
func cycleText(g *pipeline.Graph, c []string) string {
	var b strings.Builder
	for i := 0; i+1 < len(c); i++ {
		if i == 0 {
			b.WriteString(c[0] + " builds on ")
		} else {
			b.WriteString(", which builds on ")
		}
		fmt.Fprintf(&b, "%s (%s)", c[i+1], g.Via(c[i+1], c[i]))
	}
	return b.String()
}
