package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// paths are a project's folders and files inside its checkout, absolute and
// with every symlink resolved.
type paths struct {
	gitPath    string // the folder of the target file and cccp.yml
	targetFile string
	context    string
}

func (r *Runner) checkout(ctx context.Context, j *job, log io.Writer) error {
	p := j.project
	if j.build.Attempt > 1 {
		fmt.Fprintf(log, "attempt %d: attempt %d lost its runner; starting again from checkout in a fresh workspace\n", j.build.Attempt, j.build.Attempt-1)
	}
	ref := j.in.Pin
	src := p
	if ref != "" {
		fmt.Fprintf(log, "rebuilding commit %s of %s\n", ref, p.GitBranch)
		src.GitBranch = ref
	} else if settled, err := r.sameHead(ctx, j, log); settled || err != nil {
		return err
	}
	j.dir = r.workspace(j)
	if err := os.MkdirAll(filepath.Dir(j.dir), 0o755); err != nil {
		return fmt.Errorf("creating the workspace: %w", err)
	}
	_ = os.RemoveAll(j.dir) // a leftover of an interrupted run with the same id
	commit, err := r.fetch(ctx, src, j.dir, log)
	if err != nil {
		return err
	}
	if queued := j.build.Commit; queued != "" && !pipeline.SameCommit(queued, commit) {
		fmt.Fprintf(log, "%s is at %s now, not at %s as when this build was queued: building %s\n", p.GitBranch, short(commit), short(queued), short(commit))
	}
	j.build.Commit = commit
	fmt.Fprintf(log, "checked out %s at %s (%s)\n", pipeline.RedactURL(p.GitURL), p.GitBranch, commit)
	logLimits(j, log)
	r.recordCommit(ctx, j)
	if j.paths, err = resolvePaths(j.dir, p); err != nil {
		return err
	}
	j.repo, j.hasRepo, err = r.deps.RepoConfigs.ReadRepoConfig(j.dir, j.paths.gitPath)
	if err != nil {
		return err
	}
	if j.hasRepo {
		fmt.Fprintf(log, "read %s\n", filepath.Join(p.GitPath, j.repo.File))
		if j.repo.JobID != "" && j.repo.JobID != p.JobID {
			return fmt.Errorf("%s: job-id %q does not match the index's job-id %q; make them the same", filepath.Join(p.GitPath, j.repo.File), j.repo.JobID, p.JobID)
		}
	}
	return r.identify(ctx, j, log)
}

// logLimits says, once per build, which limits bound its containers.
func logLimits(j *job, log io.Writer) {
	if j.limits == (pipeline.Limits{}) {
		return
	}
	fmt.Fprintf(log, "every container of this build is limited to %s\n", j.limits)
	for _, note := range j.lowered {
		fmt.Fprintf(log, "the project's %s\n", note)
	}
}

// recordCommit stores the commit the checkout got on the running build at
// once, so that the API and the page show it, and triggers see which
// commit is being built, while the build runs.
func (r *Runner) recordCommit(ctx context.Context, j *job) {
	if err := r.deps.Store.UpdateBuild(context.WithoutCancel(ctx), j.build); err != nil {
		r.opts.Logger.Warn("recording the commit of a running build", "build", j.build.ID, "err", err)
	}
}

// short is a commit SHA shortened to 7 digits, as git shows it.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// errCheckoutTimedOut is the cause of a checkout's context at its deadline.
var errCheckoutTimedOut = errors.New("checkout timed out")

// fetch checks p out into dir within the checkout timeout; git and its
// helpers are killed when it passes.
func (r *Runner) fetch(ctx context.Context, p pipeline.Project, dir string, log io.Writer) (string, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, r.opts.CheckoutTimeout, errCheckoutTimedOut)
	defer cancel()
	commit, err := r.deps.Source.Checkout(cctx, p.GitURL, p.GitBranch, dir, log)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(cctx), errCheckoutTimedOut) {
		return "", fmt.Errorf("checkout timed out after %s: git had not finished fetching %s; check that the server answers, or raise --checkout-timeout",
			r.opts.CheckoutTimeout, pipeline.RedactURL(p.GitURL))
	}
	return commit, err
}

// resolvePaths finds the target file and build context in the checkout and
// refuses any that lead outside it, through ".." or a symlink.
func resolvePaths(root string, p pipeline.Project) (paths, error) {
	var ps paths
	var err error
	rel := func(name, base, value string) (string, error) {
		j, err := pipeline.JoinRel(base, value)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		abs, err := pipeline.SafeJoin(root, j)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return abs, nil
	}
	gitPath, err := pipeline.CleanRel(p.GitPath)
	if err != nil {
		return ps, fmt.Errorf("git-path: %w", err)
	}
	if ps.gitPath, err = rel("git-path", ".", gitPath); err != nil {
		return ps, err
	}
	if ps.targetFile, err = rel("target-file", gitPath, p.TargetFile); err != nil {
		return ps, err
	}
	if ps.context, err = rel("build-context", gitPath, p.BuildContext); err != nil {
		return ps, err
	}
	if fi, err := os.Stat(ps.targetFile); err != nil || !fi.Mode().IsRegular() {
		return ps, fmt.Errorf("target-file %s not found in the repository (git-path %q, target-file %q)", path.Join(gitPath, p.TargetFile), p.GitPath, p.TargetFile)
	}
	if fi, err := os.Stat(ps.context); err != nil || !fi.IsDir() {
		return ps, fmt.Errorf("build-context %q is not a folder of the repository", p.BuildContext)
	}
	// cccp.yml lives beside the target file.
	ps.gitPath = filepath.Dir(ps.targetFile)
	return ps, nil
}

func (r *Runner) prebuild(ctx context.Context, j *job, log io.Writer) error {
	p := j.project
	if p.PrebuildScript == "" {
		return skipReason("no prebuild-script")
	}
	script, err := pipeline.SafeJoin(j.dir, p.PrebuildScript)
	if err != nil {
		return fmt.Errorf("prebuild-script: %w", err)
	}
	dir, err := pipeline.SafeJoin(j.dir, p.PrebuildContext)
	if err != nil {
		return fmt.Errorf("prebuild-context: %w", err)
	}
	spec := pipeline.ScriptSpec{
		Script: script, Dir: dir, Timeout: r.opts.PrebuildTimeout, Workspace: j.dir,
		Env: []string{"HOIST_PROJECT=" + p.Key(), "HOIST_COMMIT=" + j.build.Commit},
	}
	scripts, where, err := r.prebuildRunner(j, &spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "running %s in %s (timeout %s%s)\n", p.PrebuildScript, p.PrebuildContext, r.opts.PrebuildTimeout, where)
	return scripts.RunScript(ctx, spec, log)
}

// prebuildRunner picks where j's prebuild script runs and completes spec:
// an untrusted project's in the sandbox (in its prebuild-image, if it
// names one), a trusted project's on the host, or in its prebuild-image
// with the engine. where is said in the log.
func (r *Runner) prebuildRunner(j *job, spec *pipeline.ScriptSpec) (scripts pipeline.ScriptRunner, where string, err error) {
	scripts, sandboxed := r.scripts(j.project)
	img := j.repo.PrebuildImage
	if img.Ref != "" {
		spec.Image = img.Ref
		spec.ImageFrom = img.At(r.repoPath(j, filepath.Join(j.paths.gitPath, j.repo.File))) + ": prebuild-image"
	}
	switch {
	case sandboxed && scripts == nil:
		// Never on the host instead: a wiring mistake must not run
		// untrusted code there.
		return nil, "", fmt.Errorf("%s is not trusted and this Hoist has no sandbox (container engine) to run its prebuild script in, and it never runs on the host instead; a Hoist admin may trust it: hoist project trust %s", j.project.Key(), j.project.Image().Repository())
	case sandboxed && img.Ref != "":
		return scripts, ", sandboxed in " + img.Ref + ": the project is not trusted", nil
	case sandboxed:
		return scripts, ", sandboxed: the project is not trusted", nil
	case img.Ref == "":
		return scripts, "", nil
	case r.deps.Sandbox == nil:
		return nil, "", fmt.Errorf("%s: this Hoist has no container engine to run the prebuild script in %s", spec.ImageFrom, img.Ref)
	}
	spec.EngineAccess = true
	return r.deps.Sandbox, ", in " + img.Ref + " with the engine: the project is trusted", nil
}

func (r *Runner) buildImage(ctx context.Context, j *job, log io.Writer) error {
	from, err := r.pinParents(ctx, j, log)
	if err != nil {
		return err
	}
	dockerfile, err := filepath.Rel(j.paths.context, j.paths.targetFile)
	if err != nil {
		return fmt.Errorf("locating the target file: %w", err)
	}
	ref := r.ref(j, "test")
	if _, ok := r.deps.Engine.(pipeline.ImageReleaser); ok && j.superseded == "" {
		// The image the tag names now, which the build's takes it from
		// (released once the build made another).
		if prev, err := r.deps.Engine.InspectImage(ctx, ref); err == nil {
			j.superseded = prev.ID
		}
	}
	j.imageID, err = r.deps.Engine.Build(ctx, pipeline.BuildSpec{
		Workspace:  j.dir,
		ContextDir: j.paths.context,
		Dockerfile: filepath.ToSlash(dockerfile),
		Tags:       []string{ref},
		Labels:     labels(j),
		// The executor may add them in the registry: the checks that
		// run the image do not need them, and dockerd's classic builder
		// spends a step on them.
		LabelsWhenPushed: true,
		From:             from,
	}, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "built %s\n", j.imageID)
	r.releaseSuperseded(ctx, j)
	// The checks that run the image start from the executor's copy while
	// it is pushed (see pushing).
	if j.built, err = r.deps.Engine.InspectImage(ctx, ref); err != nil {
		return fmt.Errorf("reading the configuration of the built image: %w", err)
	}
	fmt.Fprintf(log, "pushing %s beside the test stage (its outcome is in the test stage's log)\n", ref)
	r.startPush(ctx, j)
	return nil
}

// pinParents pins each depends-on image that Hoist delivered to the
// delivered digest (BuildSpec.From), so that "FROM ns/name:tag" builds on
// exactly what Hoist delivered.
func (r *Runner) pinParents(ctx context.Context, j *job, log io.Writer) (map[string]string, error) {
	parents := parentRefs(j)
	if len(parents) == 0 {
		return nil, nil
	}
	from := map[string]string{}
	for _, parent := range parents {
		img, ok := j.in.Delivered[parent.In(r.opts.RegistryHost)]
		if !ok {
			fmt.Fprintf(log, "parent %s: not delivered by Hoist; the engine resolves FROM itself\n", parent)
			continue
		}
		src := r.opts.RegistryHost + "/" + parent.Repository() + "@" + img.Digest
		fmt.Fprintf(log, "parent %s: using %s\n", parent, src)
		from[parent.String()] = src
	}
	return from, nil
}

// ref is the project's image in the registry with tag.
func (r *Runner) ref(j *job, tag string) string {
	return j.project.Image().WithTag(tag).In(r.opts.RegistryHost)
}

// labels are the OCI annotations every image gets. Created is when the
// build was created, so that every attempt of a build labels its image
// alike (and the engine's cache may give a retry the same digest).
func labels(j *job) map[string]string {
	created := j.build.Created
	if created.IsZero() {
		created = time.Now()
	}
	return map[string]string{
		"org.opencontainers.image.source":   pipeline.RedactURL(j.project.GitURL),
		"org.opencontainers.image.revision": j.build.Commit,
		"org.opencontainers.image.created":  created.UTC().Format(time.RFC3339),
		"io.hoist.project":                  j.project.Key(),
	}
}
