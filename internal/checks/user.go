package checks

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// UserScriptID is the result id of the project's own test-script.
const UserScriptID = "test-script"

// userScript runs cccp.yml's test-script on the host, in the target file's
// folder, with the image under test in IMAGE and CONTAINER_NAME.
func (s *Suite) userScript(ctx context.Context, spec pipeline.TestSpec, log io.Writer) pipeline.CheckResult {
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
	if err == nil {
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

// Env is the environment a test-script gets:
//
//	IMAGE, CONTAINER_NAME  the image under test (NAME:test, registry included)
//	HOIST_PROJECT          the project, ns/name:tag
//	HOIST_COMMIT           the commit being built
//	HOIST_GIT_URL          the repository, credentials hidden (its output is shown)
func Env(spec pipeline.TestSpec) []string {
	return []string{
		"IMAGE=" + spec.Image,
		"CONTAINER_NAME=" + spec.Image,
		"HOIST_PROJECT=" + spec.Project.Key(),
		"HOIST_COMMIT=" + spec.Commit,
		"HOIST_GIT_URL=" + pipeline.RedactURL(spec.Project.GitURL),
	}
}
