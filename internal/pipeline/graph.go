package pipeline

import "sort"

// Order sorts projects so that every project comes after the projects that
// build the images it depends on (parents first), keeping the input order
// among projects that do not depend on each other. Depends-on entries that no
// project builds are ignored here. Projects on a depends-on cycle, and the
// projects that depend on them, are left out of order; each cycle is
// returned in cycles as the keys along it.
func Order(projects []Project) (order []Project, cycles [][]string) {
	byKey := make(map[string]int, len(projects))
	for i, p := range projects {
		byKey[p.Key()] = i
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(projects))
	onCycle := make([]bool, len(projects))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		switch state[i] {
		case done:
			return
		case visiting:
			cycle := []string{}
			for j := len(stack) - 1; j >= 0; j-- {
				cycle = append([]string{projects[stack[j]].Key()}, cycle...)
				onCycle[stack[j]] = true
				if stack[j] == i {
					break
				}
			}
			cycles = append(cycles, append(cycle, projects[i].Key()))
			return
		}
		state[i] = visiting
		stack = append(stack, i)
		for _, d := range projects[i].DependsOn {
			if j, ok := byKey[d.String()]; ok {
				visit(j)
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		blocked := onCycle[i]
		for _, d := range projects[i].DependsOn {
			if j, ok := byKey[d.String()]; ok && onCycle[j] {
				blocked = true
			}
		}
		if blocked {
			onCycle[i] = true
			return
		}
		order = append(order, projects[i])
	}
	for i := range projects {
		visit(i)
	}
	sort.SliceStable(cycles, func(a, b int) bool { return cycles[a][0] < cycles[b][0] })
	return order, cycles
}
