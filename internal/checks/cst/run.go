package cst

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
)

// Runner runs container-structure-test files.
type Runner struct {
	c      pipeline.Containers
	labels map[string]string // on every container it starts
	// CommandTimeout bounds one command test, setup and teardown included
	// (default 10 min; upstream has none).
	CommandTimeout time.Duration
	// MaxOutput bounds what a command test keeps of its stdout and of its
	// stderr for matching (default 1 MiB each).
	MaxOutput int
	// ReportOutput bounds each of stdout and stderr in a result's Output and
	// in the log (default 8 KiB).
	ReportOutput int
}

// New returns a Runner that runs command tests through c.
func New(c pipeline.Containers) *Runner {
	return &Runner{c: c, labels: map[string]string{"io.hoist.check": "structure-test"}, CommandTimeout: 10 * time.Minute, MaxOutput: 1 << 20, ReportOutput: 8 << 10}
}

// Run runs every test of f against image (a reference c can run),
// with fsys its merged filesystem (file tests read it, never run a shell)
// and cfg its configuration (metadataTest). It returns one result per test,
// in file order, writes progress to log, and removes every container it
// made, whatever happens. It never commits a container: a test's setup
// commands run before its command in the same container (see chained).
func (r *Runner) Run(ctx context.Context, f *File, image string, fsys *imagefs.FS, cfg pipeline.ImageConfig, log io.Writer) []pipeline.CheckResult {
	if f == nil {
		return nil
	}
	imgEnv := envMap(cfg.Env)
	globals := make([]string, 0, len(f.GlobalEnvVars))
	for _, g := range f.GlobalEnvVars {
		globals = append(globals, g.Key+"="+expand(g.Value, imgEnv))
	}
	// The environment file tests see: the image's and globalEnvVars.
	withGlobals := envMap(mergeEnv(cfg.Env, globals))

	var results []pipeline.CheckResult
	used := map[string]bool{}
	if len(f.Tests) == 0 {
		return []pipeline.CheckResult{{
			ID: "structure-test/" + f.Path, Group: pipeline.GroupStructureTest, Blocking: true,
			Description: "container-structure-test file " + f.Path, Status: pipeline.CheckFail, Location: f.Path + ":1:1",
			Detail: f.Path + " has no tests; upstream fails a run without tests: add commandTests, fileExistenceTests, fileContentTests or a metadataTest",
		}}
	}
	for _, t := range f.Tests {
		start := time.Now()
		id := "structure-test/" + f.Path + "/" + t.Name
		for n := 2; used[id]; n++ {
			id = fmt.Sprintf("structure-test/%s/%s (%d)", f.Path, t.Name, n)
		}
		used[id] = true
		res := pipeline.CheckResult{
			ID:          id,
			Group:       pipeline.GroupStructureTest,
			Description: string(t.Kind) + ": " + t.Name,
			Blocking:    true,
			Location:    f.Path + ":" + t.Pos.String(),
		}
		if t.Kind == KindUnsupported {
			res.Description = "unsupported in " + f.Path + ": " + t.Name
		}
		fmt.Fprintf(log, "=== RUN %s (%s)\n", res.Description, res.Location)
		var fails []string
		var pass string
		switch {
		case ctx.Err() != nil:
			fails = []string{"not run: " + ctx.Err().Error()}
		case len(t.Problems) > 0:
			fails = slices.Clone(t.Problems)
			if t.Kind != KindUnsupported {
				fails[0] = "not run: " + fails[0]
			}
		case t.Kind == KindCommand:
			pass, fails, res.Output = r.command(ctx, f, t, image, fsys, imgEnv, globals, log)
		case fsys == nil && (t.Kind == KindFileExistence || t.Kind == KindFileContent):
			fails = []string{"not run: the image's filesystem could not be read (see the log)"}
		case t.Kind == KindFileExistence:
			pass, fails = fileExistence(t, fsys, withGlobals)
		case t.Kind == KindFileContent:
			pass, fails = fileContent(f.Path, t, fsys)
		case t.Kind == KindMetadata:
			pass, fails = metadata(t.Metadata, cfg)
		}
		res.Duration = time.Since(start)
		if len(fails) > 0 {
			res.Status, res.Detail = pipeline.CheckFail, strings.Join(fails, "\n")
		} else {
			res.Status, res.Detail = pipeline.CheckPass, pass
		}
		fmt.Fprintf(log, "--- %s %s (%s)\n", strings.ToUpper(string(res.Status)), t.Name, res.Duration.Round(time.Millisecond))
		if len(fails) > 0 {
			fmt.Fprintf(log, "%s\n", indent(res.Detail))
		}
		results = append(results, res)
	}
	return results
}

// envMap turns KEY=value pairs into a map; a later key wins.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// mergeEnv concatenates KEY=value lists, a later key replacing an earlier
// one in place, as the engine merges a container's env over its image's.
func mergeEnv(lists ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, l := range lists {
		for _, kv := range l {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// expand replaces $VAR and ${VAR} from env, an unset one by "", as
// upstream does (os.Expand).
func expand(s string, env map[string]string) string {
	return os.Expand(s, func(k string) string { return env[k] })
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// quote shows text in a message, cut to n bytes.
func quote(s string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("%q… (%d bytes)", s[:n], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// matches checks expected (must match) and excluded (must not match)
// patterns against text, named what ("stdout") in messages.
func matches(file, field string, ps []Pattern, expected bool, text, what string) []string {
	var fails []string
	for _, p := range ps {
		if p.re.MatchString(text) == expected {
			continue
		}
		if expected {
			fails = append(fails, fmt.Sprintf("%s /%s/ (%s:%s) does not match %s %s", field, p.Expr, file, p.Pos, what, quote(text, 300)))
		} else {
			loc := p.re.FindStringIndex(text)
			fails = append(fails, fmt.Sprintf("%s /%s/ (%s:%s) matches %s at %s in %s", field, p.Expr, file, p.Pos, what, quote(text[loc[0]:loc[1]], 100), quote(text, 300)))
		}
	}
	return fails
}
