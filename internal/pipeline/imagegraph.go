package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// Graph is the image graph of a set of projects: an edge runs from a parent
// project to a child project when the child's depends-on or a FROM line of
// its target file names the image the parent builds.
type Graph struct {
	projects  []Project
	byKey     map[string]int
	parents   [][]int
	children  [][]int
	via       map[[2]int]string // "depends-on", "FROM" or "depends-on, FROM"
	fromKnown []bool
}

// NewGraph builds the graph of projects, with from holding the FROM images
// recorded for each project key (a project absent from it has unknown FROM
// edges: it never built). Edges to images no project builds are dropped.
func NewGraph(projects []Project, from map[string][]ImageRef) *Graph {
	g := &Graph{projects: projects, byKey: make(map[string]int, len(projects)),
		parents: make([][]int, len(projects)), children: make([][]int, len(projects)),
		via: map[[2]int]string{}, fromKnown: make([]bool, len(projects))}
	for i, p := range projects {
		g.byKey[p.Key()] = i
	}
	add := func(child int, ref ImageRef, kind string) {
		parent, ok := g.byKey[ref.String()]
		if !ok || parent == child {
			return
		}
		e := [2]int{parent, child}
		switch prev, seen := g.via[e]; {
		case !seen:
			g.via[e] = kind
			g.parents[child] = append(g.parents[child], parent)
			g.children[parent] = append(g.children[parent], child)
		case prev != kind && !strings.Contains(prev, kind):
			g.via[e] = prev + ", " + kind
		}
	}
	for i, p := range projects {
		for _, d := range p.DependsOn {
			add(i, d, "depends-on")
		}
		refs, ok := from[p.Key()]
		g.fromKnown[i] = ok
		for _, r := range refs {
			add(i, r, "FROM")
		}
	}
	for i := range projects {
		sort.Ints(g.parents[i])
		sort.Ints(g.children[i])
	}
	return g
}

// Has reports whether a project builds key ("ns/name:tag").
func (g *Graph) Has(key string) bool { _, ok := g.byKey[key]; return ok }

// Project returns the project with key.
func (g *Graph) Project(key string) (Project, bool) {
	i, ok := g.byKey[key]
	if !ok {
		return Project{}, false
	}
	return g.projects[i], true
}

// Parents lists the keys of the projects key builds on, in input order.
func (g *Graph) Parents(key string) []string { return g.keys(g.parents, key) }

// Children lists the keys of the projects that build on key, in input order.
func (g *Graph) Children(key string) []string { return g.keys(g.children, key) }

// Via says why parent → child is an edge: "depends-on", "FROM" or both.
func (g *Graph) Via(parent, child string) string {
	return g.via[[2]int{g.byKey[parent], g.byKey[child]}]
}

// FromKnown reports whether key's FROM lines are known (it checked out).
func (g *Graph) FromKnown(key string) bool {
	i, ok := g.byKey[key]
	return ok && g.fromKnown[i]
}

func (g *Graph) keys(adj [][]int, key string) []string {
	i, ok := g.byKey[key]
	if !ok {
		return nil
	}
	out := make([]string, len(adj[i]))
	for k, j := range adj[i] {
		out[k] = g.projects[j].Key()
	}
	return out
}

// Cycle returns a cycle through key, as the keys along it with key first
// and last, or nil when key is on none.
func (g *Graph) Cycle(key string) []string {
	start, ok := g.byKey[key]
	if !ok {
		return nil
	}
	prev := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, c := range g.children[i] {
			if c == start {
				path := []string{g.projects[start].Key()}
				for k := i; k != start; k = prev[k] {
					path = append(path, g.projects[k].Key())
				}
				path = append(path, g.projects[start].Key())
				for a, b := 0, len(path)-1; a < b; a, b = a+1, b-1 {
					path[a], path[b] = path[b], path[a]
				}
				return path
			}
			if _, seen := prev[c]; !seen {
				prev[c] = i
				queue = append(queue, c)
			}
		}
	}
	return nil
}

// PlanStep is one build of a plan.
type PlanStep struct {
	Key     string
	Depth   int      // 0 for a changed project, else 1 + the deepest parent's
	Reason  string   // "changed (--changed)", "parent centos/centos:7 rebuilds"
	Parents []string // the parents in the plan that make it rebuild
}

// Plan lists what rebuilds when the projects in changed (key → why) change:
// each of them and everything that builds on them, transitively, parents
// before children (a topological order; ties keep the input order). A
// project on a cycle is left out and reported in the returned error.
func (g *Graph) Plan(changed map[string]string) ([]PlanStep, error) {
	in := make([]bool, len(g.projects))
	var stack []int
	for k := range changed {
		if i, ok := g.byKey[k]; ok && !in[i] {
			in[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range g.children[i] {
			if !in[c] {
				in[c] = true
				stack = append(stack, c)
			}
		}
	}
	// Kahn's algorithm over the affected projects, lowest index first.
	waiting := make([]int, len(g.projects))
	var ready intHeap
	for i := range g.projects {
		if !in[i] {
			continue
		}
		for _, p := range g.parents[i] {
			if in[p] {
				waiting[i]++
			}
		}
		if waiting[i] == 0 {
			ready.push(i)
		}
	}
	depth := make([]int, len(g.projects))
	var steps []PlanStep
	for ready.len() > 0 {
		i := ready.pop()
		step := PlanStep{Key: g.projects[i].Key(), Depth: depth[i]}
		for _, p := range g.parents[i] {
			if in[p] {
				step.Parents = append(step.Parents, g.projects[p].Key())
			}
		}
		if why, ok := changed[step.Key]; ok {
			step.Reason = "changed (" + why + ")"
		} else {
			step.Reason = "parent " + strings.Join(step.Parents, ", parent ") + " rebuilds"
		}
		steps = append(steps, step)
		for _, c := range g.children[i] {
			if !in[c] {
				continue
			}
			depth[c] = max(depth[c], depth[i]+1)
			if waiting[c]--; waiting[c] == 0 {
				ready.push(c)
			}
		}
	}
	var stuck []string
	for i := range g.projects {
		if in[i] && waiting[i] > 0 {
			stuck = append(stuck, g.projects[i].Key())
		}
	}
	if len(stuck) > 0 {
		return steps, fmt.Errorf("the image graph has a cycle: %s cannot be ordered; remove a depends-on or FROM line to break it", strings.Join(stuck, ", "))
	}
	return steps, nil
}

// intHeap is a min-heap of project indexes.
type intHeap []int

func (h intHeap) len() int { return len(h) }

func (h *intHeap) push(v int) {
	*h = append(*h, v)
	for i := len(*h) - 1; i > 0; {
		p := (i - 1) / 2
		if (*h)[p] <= (*h)[i] {
			break
		}
		(*h)[p], (*h)[i] = (*h)[i], (*h)[p]
		i = p
	}
}

func (h *intHeap) pop() int {
	old := *h
	v := old[0]
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && (*h)[l] < (*h)[m] {
			m = l
		}
		if r < n && (*h)[r] < (*h)[m] {
			m = r
		}
		if m == i {
			return v
		}
		(*h)[m], (*h)[i] = (*h)[i], (*h)[m]
		i = m
	}
}
