package checks

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// UserScriptID is the result id of the project's own test-script.
const UserScriptID = "test-script"

// userScript runs cccp.yml's test-script, in the target file's folder,
// with the image under test in IMAGE and CONTAINER_NAME: on the host for a
// trusted project that names no test-image, else in a container beside
// the image under test (sandboxedScript).
func (s *Suite) userScript(ctx context.Context, spec pipeline.TestSpec, t *target, log io.Writer) pipeline.CheckResult {
	r := pipeline.CheckResult{ID: UserScriptID, Description: "the project's own test-script from cccp.yml", Blocking: true}
	switch {
	case !spec.HasRepo:
		r.Status, r.Detail = pipeline.CheckNA, "no cccp.yml beside the target file"
		return r
	case spec.Config.TestScript == "":
		r.Status, r.Detail = pipeline.CheckNA, spec.Config.File+" names no test-script"
		return r
	case spec.Config.TestSkip:
		r.Status, r.Detail = pipeline.CheckNA, "skipped: test-skip is true in "+spec.Config.File
		return r
	}
	fmt.Fprintf(log, "--- test-script %s (IMAGE=%s)\n", spec.Config.TestScript, spec.Image)
	script, err := pipeline.SafeJoin(spec.Dir, spec.Config.TestScript)
	switch {
	case err == nil && spec.Sandboxed && s.d.Sandbox == nil:
		// Never on the host instead: a wiring mistake must not run
		// untrusted code there.
		err = fmt.Errorf("%s is not trusted and this Hoist has no sandbox to run its test-script in, and it never runs on the host instead; a Hoist admin may trust it: hoist project trust %s", spec.Project.Key(), spec.Project.Image().Repository())
	case err == nil && !spec.Sandboxed && spec.Config.TestImage.Ref != "" && s.d.Sandbox == nil:
		err = fmt.Errorf("%s: this Hoist has no container engine to run the test-script in %s", testImageFrom(spec), spec.Config.TestImage.Ref)
	case err == nil && s.opts.ScriptsBeside && s.d.Sandbox == nil:
		err = fmt.Errorf("this Hoist runs test-scripts beside the image under test, and has no sandbox to run them in")
	case err == nil && (spec.Sandboxed || spec.Config.TestImage.Ref != "" || s.opts.ScriptsBeside) && t == nil:
		err = fmt.Errorf("this Hoist has no container engine to start the image under test beside the test-script")
	case err == nil && (spec.Sandboxed || spec.Config.TestImage.Ref != "" || s.opts.ScriptsBeside):
		err = s.sandboxedScript(ctx, spec, t, script, log)
	case err == nil:
		err = s.scripts.RunScript(ctx, pipeline.ScriptSpec{
			Script:  script,
			Dir:     spec.Dir,
			Env:     append(Env(spec), spec.Env...),
			Timeout: s.opts.ScriptTimeout,
		}, log)
	}
	if err != nil {
		r.Status, r.Detail = pipeline.CheckFail, err.Error()
	} else {
		r.Status, r.Detail = pipeline.CheckPass, spec.Config.TestScript+" exited 0"
	}
	fmt.Fprintf(log, "--- %s test-script: %s\n", strings.ToUpper(string(r.Status)), r.Detail)
	return r
}

// sandboxedScript runs the test-script in the sandbox (in cccp.yml's
// test-image, if it names one), in the network namespace of the image
// under test (t, the container the "starts" and "ports" checks use,
// started here if they have not yet): the script reaches it on
// TARGET_HOST (localhost) and the ports it EXPOSEs. A trusted project's
// script (in its test-image) gets the engine too. The test stage removes
// the container when it ends.
func (s *Suite) sandboxedScript(ctx context.Context, spec pipeline.TestSpec, t *target, script string, log io.Writer) error {
	id, err := t.start(ctx)
	if err != nil {
		return fmt.Errorf("starting the image under test for the test-script: %w", err)
	}
	run := pipeline.ScriptSpec{
		Script:        script,
		Dir:           spec.Dir,
		Env:           append(append(Env(spec), "TARGET_HOST=localhost"), spec.Env...),
		Timeout:       s.opts.ScriptTimeout,
		Workspace:     spec.RepoRoot,
		JoinContainer: id,
		EngineAccess:  !spec.Sandboxed && !s.opts.ScriptsBeside,
	}
	where := "sandboxed, the project is not trusted"
	if !spec.Sandboxed {
		where = "beside it, as every test-script on this executor"
	}
	if img := spec.Config.TestImage.Ref; img != "" {
		run.Image, run.ImageFrom = img, testImageFrom(spec)
		where = "in " + img + ", sandboxed: the project is not trusted"
		if !spec.Sandboxed {
			where = "in " + img + " with the engine: the project is trusted"
		}
	}
	fmt.Fprintf(log, "(%s: the image under test runs as %s, reachable on $TARGET_HOST=localhost)\n", where, shortID(id))
	err = s.d.Sandbox.RunScript(ctx, run, log)
	if err != nil {
		var out strings.Builder
		if s.d.Containers.ContainerOutput(context.WithoutCancel(ctx), id, &out, &out, false) == nil && out.Len() > 0 {
			fmt.Fprintf(log, "--- output of the image under test:\n%s", bounded(out.String(), 4096))
		}
	}
	return err
}

// testImageFrom is where cccp.yml names the test-image, as errors about it
// start: "app/cccp.yml:4:13: test-image".
func testImageFrom(spec pipeline.TestSpec) string {
	file := filepath.Join(spec.Dir, spec.Config.File)
	if rel, err := filepath.Rel(spec.RepoRoot, file); spec.RepoRoot != "" && err == nil && filepath.IsLocal(rel) {
		file = rel
	} else {
		file = spec.Config.File
	}
	return spec.Config.TestImage.At(filepath.ToSlash(file)) + ": test-image"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// bounded returns the last n bytes of s.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Env is the environment a test-script gets. IMAGE is in the executor
// when the script starts; in the registry it may not be yet (it is pushed
// while the script runs):
//
//	IMAGE, CONTAINER_NAME  the image under test (NAME:test, registry included)
//	HOIST_PROJECT          the project, ns/name:tag
//	HOIST_COMMIT           the commit being built
//	HOIST_GIT_URL          the repository, credentials hidden (its output is shown)
//	TARGET_HOST            sandboxed or in a test-image only: where the
//	                       image under test answers (localhost: the script
//	                       shares its network)
func Env(spec pipeline.TestSpec) []string {
	return []string{
		"IMAGE=" + spec.Image,
		"CONTAINER_NAME=" + spec.Image,
		"HOIST_PROJECT=" + spec.Project.Key(),
		"HOIST_COMMIT=" + spec.Commit,
		"HOIST_GIT_URL=" + pipeline.RedactURL(spec.Project.GitURL),
	}
}
