package checks

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hoistci/hoist/internal/checks/autotest"
	"github.com/hoistci/hoist/internal/checks/cst"
	"github.com/hoistci/hoist/internal/pipeline"
)

// structureFiles finds the project's container-structure-test files
// (cccp.yml structure-tests, else *.cst.yaml beside the target file),
// unless the group is excluded. A listed file that is missing is a failed
// result.
func (r *run) structureFiles() (files []string, failed *pipeline.CheckResult) {
	spec := r.spec
	if spec.Dir == "" || excluded(spec.Config.Checks, pipeline.GroupStructureTest, pipeline.GroupStructureTest) {
		return nil, nil
	}
	files, err := cst.Find(spec.Dir, spec.Config.StructureTests)
	if err != nil {
		return nil, &pipeline.CheckResult{
			ID: pipeline.GroupStructureTest, Group: pipeline.GroupStructureTest, Blocking: true,
			Description: "container-structure-test files", Status: pipeline.CheckFail, Detail: err.Error(),
			Location: spec.Config.File,
		}
	}
	return files, nil
}

// structureTests runs each container-structure-test file against the
// image, with the files read for the checks.
func (r *run) structureTests(ctx context.Context, files []string) []pipeline.CheckResult {
	var results []pipeline.CheckResult
	runner := cst.New(r.s.d.Containers)
	for _, name := range files {
		file := r.repoPath(filepath.Join(r.spec.Dir, filepath.FromSlash(name)))
		fmt.Fprintf(r.log, "--- structure tests %s\n", file)
		data, err := pipeline.ReadCheckoutFile(r.spec.Dir, name, pipeline.DefaultMaxBytes)
		if err != nil {
			results = append(results, cst.ParseError(file, err))
			continue
		}
		f, err := cst.Parse(file, data)
		if err != nil {
			results = append(results, cst.ParseError(file, err))
			continue
		}
		results = append(results, runner.Run(ctx, f, r.spec.Image, r.fs, r.cfg, r.log)...)
	}
	return results
}

// autotest runs the Docker Hub autotest beside the target file, if there
// is one (nil when there is none or its group is excluded).
func (r *run) autotest(ctx context.Context) []pipeline.CheckResult {
	spec := r.spec
	if spec.Dir == "" || excluded(spec.Config.Checks, "autotest", pipeline.GroupAutotest) {
		return nil
	}
	fail := func(detail string) []pipeline.CheckResult {
		return []pipeline.CheckResult{{
			ID: "autotest", Group: pipeline.GroupAutotest, Blocking: true, Status: pipeline.CheckFail,
			Description: "Docker Hub autotest", Detail: detail, Location: spec.Config.File,
		}}
	}
	file, err := autotest.Find(spec.Dir, spec.Config.Autotest)
	switch {
	case err != nil:
		return fail(err.Error())
	case file == "":
		return nil
	}
	e := r.s.d.Containers
	if e == nil {
		return fail(fmt.Sprintf("%s: no container engine to run the autotest with", r.repoPath(file)))
	}
	fmt.Fprintf(r.log, "--- autotest %s\n", r.repoPath(file))
	start := time.Now()
	res := autotest.New(e).Run(ctx, autotest.Spec{
		File:       file,
		Image:      spec.Image,
		Project:    spec.Project,
		TargetFile: spec.TargetFile,
		ContextDir: spec.ContextDir,
		Commit:     spec.Commit,
		Timeout:    r.s.opts.ScriptTimeout,
		RepoRoot:   spec.RepoRoot,
	}, r.log)
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	return []pipeline.CheckResult{res}
}

// repoPath names an absolute path in the checkout relative to its root,
// "/"-separated, for messages and result ids.
func (r *run) repoPath(p string) string {
	if root := r.spec.RepoRoot; root != "" {
		if rel, err := filepath.Rel(root, p); err == nil && filepath.IsLocal(rel) {
			return filepath.ToSlash(rel)
		}
	}
	if rel, err := filepath.Rel(r.spec.Dir, p); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return filepath.Base(p)
}
