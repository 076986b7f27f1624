package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// cmdPlan prints what would rebuild, in order and why, without building.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plan", stderr)
	var indexes, changed, pushes listFlag
	data := fs.String("data", "", "folder of a hoist database, for the FROM edges its builds recorded")
	db := fs.String("db", "", "a hoist database (sqlite:PATH or postgres://…), for the FROM edges its builds recorded; instead of --data")
	fs.Var(&indexes, "index", "the index: an index.d folder, an index.yml or a file (repeatable)")
	fs.Var(&changed, "changed", "NS/NAME or NS/NAME:TAG that changes (repeatable)")
	fs.Var(&pushes, "push", "REPO@BRANCH pushed to: every project built from it changes (repeatable)")
	opts := indexOptions(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(indexes) == 0 || fs.NArg() > 0 || len(changed)+len(pushes) == 0 {
		fmt.Fprintln(stderr, "usage: hoist plan --index PATH [--data DIR] (--changed NS/NAME[:TAG] | --push REPO@BRANCH)...")
		return exitError(2)
	}
	res, err := loadIndex(indexes, *opts, stderr)
	if err != nil {
		return err
	}
	why := map[string]string{}
	for _, c := range changed {
		sel, err := selectProjects(res.Projects, []string{c})
		if err != nil {
			// selectProjects names its flag --only.
			return errors.New(strings.Replace(err.Error(), "--only", "--changed", 1))
		}
		for _, p := range sel {
			why[p.Key()] = "--changed"
		}
	}
	for _, push := range pushes {
		sel, err := pushedProjects(res.Projects, push)
		if err != nil {
			return err
		}
		for _, p := range sel {
			if _, ok := why[p.Key()]; !ok {
				why[p.Key()] = "push to " + push
			}
		}
	}
	from, note, err := readFromEdges(ctx, *data, *db, res.Projects)
	if err != nil {
		return err
	}
	g := pipeline.NewGraph(res.Projects, from)
	steps, planErr := g.Plan(why)
	printPlan(stdout, g, steps)
	if note != "" {
		fmt.Fprintln(stdout, note)
	}
	if planErr != nil {
		return planErr
	}
	return nil
}

// printPlan writes steps as a numbered list, indented by depth.
func printPlan(w io.Writer, g *pipeline.Graph, steps []pipeline.PlanStep) {
	fmt.Fprintf(w, "%d to rebuild, in this order:\n", len(steps))
	width := len(fmt.Sprint(len(steps)))
	for i, s := range steps {
		reason := s.Reason
		if len(s.Parents) > 0 && !strings.HasPrefix(reason, "changed") {
			var vias []string
			for _, p := range s.Parents {
				vias = append(vias, g.Via(p, s.Key))
			}
			reason += " (" + strings.Join(dedupe(vias), "; ") + ")"
		}
		fmt.Fprintf(w, "%*d. %s%s — %s\n", width, i+1, strings.Repeat("  ", s.Depth), s.Key, reason)
	}
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// readFromEdges reads the FROM images recorded in the database in data (or
// the one db names), and a note naming the projects whose FROM lines are
// not known.
func readFromEdges(ctx context.Context, data, db string, projects []pipeline.Project) (map[string][]pipeline.ImageRef, string, error) {
	if data == "" && db == "" {
		return nil, "note: FROM edges unknown (no --data): only depends-on is used", nil
	}
	if _, err := os.Stat(filepath.Join(data, "hoist.db")); db == "" && err != nil {
		return nil, "", fmt.Errorf("--data %s: no hoist.db there; name the folder hoist run or hoist serve used", data)
	}
	st, err := openDB(ctx, data, db)
	if err != nil {
		return nil, "", err
	}
	defer st.Close()
	from, err := st.FromImages(ctx)
	if err != nil {
		return nil, "", err
	}
	var unknown []string
	for _, p := range projects {
		if _, ok := from[p.Key()]; !ok {
			unknown = append(unknown, p.Key())
		}
	}
	if len(unknown) == 0 {
		return from, "", nil
	}
	shown := unknown
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(unknown)-5))
	}
	return from, fmt.Sprintf("note: FROM edges unknown for %d projects that never built here (only depends-on counts for them): %s",
		len(unknown), strings.Join(shown, ", ")), nil
}

// pushedProjects selects the projects built from REPO at BRANCH.
func pushedProjects(projects []pipeline.Project, push string) ([]pipeline.Project, error) {
	i := strings.LastIndex(push, "@")
	if i <= 0 || i == len(push)-1 || strings.Contains(push[i+1:], ":") {
		return nil, fmt.Errorf("--push %s: want REPO@BRANCH, for example https://git.example/org/repo.git@main", push)
	}
	repo, branch := repoKey(push[:i]), push[i+1:]
	var out []pipeline.Project
	for _, p := range projects {
		if repoKey(p.GitURL) == repo && p.GitBranch == branch {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--push %s: no project of the index builds branch %s of that repository", push, branch)
	}
	return out, nil
}

// repoKey normalises a repository URL; local paths are made absolute.
func repoKey(u string) string {
	if !strings.Contains(u, "://") {
		if _, err := os.Stat(u); err == nil {
			if abs, err := filepath.Abs(u); err == nil {
				u = abs
			}
		}
	}
	return pipeline.NormalizeRepoURL(u)
}

// withFromParents returns projects with the FROM images their last builds
// recorded added to their depends-on when another of projects builds them,
// so that hoist run orders and skips by FROM edges too.
func withFromParents(projects []pipeline.Project, from map[string][]pipeline.ImageRef) []pipeline.Project {
	keys := make(map[string]bool, len(projects))
	for _, p := range projects {
		keys[p.Key()] = true
	}
	out := make([]pipeline.Project, len(projects))
	for i, p := range projects {
		for _, ref := range from[p.Key()] {
			if keys[ref.String()] && ref.String() != p.Key() && !slices.Contains(p.DependsOn, ref) {
				p.DependsOn = append(slices.Clip(p.DependsOn), ref)
			}
		}
		out[i] = p
	}
	return out
}
