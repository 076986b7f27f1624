package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// lint lints the target file with buildkit's rules before anything is
// built. Findings are advisory unless the project's cccp.yml makes lint
// (or a rule) blocking; a Dockerfile that does not parse fails here, at
// its line, rather than in the engine.
func (r *Runner) lint(ctx context.Context, j *job, log io.Writer) error {
	if r.deps.Linter == nil {
		return skipReason("no linter configured")
	}
	if j.repo.Checks.Excluded(pipeline.GroupLint) {
		return skipReason("lint is excluded in " + j.repo.File)
	}
	file := r.repoPath(j, j.paths.targetFile)
	data, err := pipeline.ReadRegularFile(j.paths.targetFile, file, pipeline.DefaultMaxBytes)
	if err != nil {
		return fmt.Errorf("reading the target file: %w", err)
	}
	findings, err := r.deps.Linter.Lint(ctx, file, data, nil)
	if err != nil && len(findings) == 0 {
		r.record(ctx, j, log, []pipeline.CheckResult{{
			ID: pipeline.GroupLint, Group: pipeline.GroupLint, Description: "the Dockerfile parses",
			Status: pipeline.CheckFail, Blocking: true, Detail: err.Error(), Location: file,
		}})
		return err
	}
	// With findings, an error is the Dockerfile's own "# check=error=true":
	// its findings block.
	strict := err != nil
	var results []pipeline.CheckResult
	for _, f := range findings {
		detail := f.Message
		if f.URL != "" {
			detail += " (" + f.URL + ")"
		}
		results = append(results, pipeline.CheckResult{
			ID: "lint/" + f.Rule, Group: pipeline.GroupLint, Description: f.Description,
			Status: pipeline.CheckWarn, Detail: detail,
			Location: fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column),
		})
	}
	if strict {
		for i := range results {
			results[i].Status, results[i].Blocking = pipeline.CheckFail, true
		}
	} else {
		results = j.repo.Checks.Apply(results)
	}
	fmt.Fprintf(log, "linted %s with buildkit's rules: %d finding(s)\n", file, len(results))
	for _, res := range results {
		fmt.Fprintf(log, "  %s: %s %s: %s\n", res.Location, strings.ToUpper(string(res.Status)), strings.TrimPrefix(res.ID, "lint/"), res.Detail)
	}
	if len(results) == 0 {
		results = []pipeline.CheckResult{{ID: pipeline.GroupLint, Group: pipeline.GroupLint,
			Description: "the Dockerfile follows buildkit's lint rules", Status: pipeline.CheckPass,
			Detail: "no findings", Location: file}}
	}
	r.record(ctx, j, log, results)
	return failure(results)
}

// test runs the predefined checks and the project's own tests, records
// their results and the JUnit report, and fails on a blocking failure.
func (r *Runner) test(ctx context.Context, j *job, log io.Writer) error {
	_, sandboxed := r.scripts(j.project)
	spec := pipeline.TestSpec{
		Image: r.ref(j, "test"), Digest: j.digest,
		TargetFile: j.paths.targetFile, ContextDir: j.paths.context, RepoRoot: j.dir,
		Dir: j.paths.gitPath, Config: j.repo, HasRepo: j.hasRepo,
		Project: j.project, Commit: j.build.Commit, Sandboxed: sandboxed,
		Defer: func(remove func(context.Context) error) {
			j.deferred.Go(func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := remove(cctx); err != nil {
					r.opts.Logger.Warn("removing the container of the image under test", "build", j.build.ID, "err", err)
				}
			})
		},
	}
	if j.pushing != nil {
		spec.Digest, spec.Pushed, spec.Built = "", j.pushing.wait, j.built
	}
	results, err := r.deps.Tester.Test(ctx, spec, log)
	r.record(ctx, j, log, results)
	if j.pushing != nil {
		if perr := r.awaitPush(ctx, j, log); perr != nil {
			return perr
		}
	}
	if err != nil {
		return fmt.Errorf("running tests: %w", err)
	}
	fmt.Fprintf(log, "\nsummary:\n")
	for _, res := range results {
		mark := ""
		if res.Failed() {
			mark = " (blocking)"
		}
		fmt.Fprintf(log, "  %-5s %-24s %s%s\n", res.Status, res.ID, res.Detail, mark)
	}
	return failure(results)
}

// failure is the error of a stage whose results have blocking failures,
// naming each with its reason; nil when there are none.
func failure(results []pipeline.CheckResult) error {
	var failed []string
	for _, res := range results {
		if res.Failed() {
			msg := res.ID + ": " + firstLine(res.Detail)
			if res.Location != "" && res.Group != pipeline.GroupCheck {
				msg = res.Location + ": " + msg
			}
			failed = append(failed, msg)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return errors.New(strings.Join(failed, "; "))
}

// record adds results to the build's, stores them all and writes the
// JUnit report. Failing to store them is logged, not fatal: the stage's
// own outcome stands.
func (r *Runner) record(ctx context.Context, j *job, log io.Writer, results []pipeline.CheckResult) {
	j.results = append(j.results, results...)
	ctx = context.WithoutCancel(ctx)
	if err := r.deps.Store.PutCheckResults(ctx, j.build.ID, j.results); err != nil {
		fmt.Fprintf(log, "warning: storing the check results: %v\n", err)
	}
	report, err := junit(j.project.Key(), j.build.Number, j.results)
	if err == nil {
		err = r.putArtifact(ctx, j, "junit.xml", "application/xml", report)
	}
	if err != nil {
		fmt.Fprintf(log, "warning: storing the JUnit report: %v\n", err)
	}
}

// putArtifact stores an artifact with the build and, with
// Options.ArtifactDir, writes it to disk too.
func (r *Runner) putArtifact(ctx context.Context, j *job, name, contentType string, data []byte) error {
	err := r.deps.Store.PutArtifact(ctx, pipeline.Artifact{BuildID: j.build.ID, Name: name, ContentType: contentType, Data: data, Created: now()})
	if err != nil || r.opts.ArtifactDir == "" {
		return err
	}
	dir := filepath.Join(r.opts.ArtifactDir, strconv.FormatInt(j.build.ID, 10))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), data, 0o600)
}

// repoPath is abs as a path inside the repository, for messages.
func (r *Runner) repoPath(j *job, abs string) string {
	rel, err := filepath.Rel(j.dir, abs)
	if err != nil {
		return filepath.Base(abs)
	}
	return path.Clean(filepath.ToSlash(rel))
}
