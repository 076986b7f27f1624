package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
)

// whyExample says why each example measures what it measures.
var whyExample = map[string]string{
	"busybox": "its container exits 0 at once, so neither side waits the 1 s a server must stay up, " +
		"and the time is the pipeline's own work (checkout, a shell prebuild, build, push, test, deliver)",
	"hello": "a Go server: both sides wait the 1 s it must stay up, and its prebuild compiles Go " +
		"(build cache warmed by the untimed runs), so fixed costs dilute the ratio toward 1",
}

// examplesRepo copies the module's examples/ into a new git repository
// committed on branch main, which the examples' index (git-url ../..,
// git-branch main) then names.
func (e *env) examplesRepo(ctx context.Context) (string, error) {
	repo := filepath.Join(e.tmp, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return "", err
	}
	if err := os.CopyFS(filepath.Join(repo, "examples"), os.DirFS(filepath.Join(e.root, "examples"))); err != nil {
		return "", fmt.Errorf("copying examples: %w", err)
	}
	git := func(args ...string) error {
		full := append([]string{"-C", repo, "-c", "user.name=hoist bench", "-c", "user.email=bench@hoist.invalid", "-c", "commit.gpgsign=false"}, args...)
		_, err := e.output(ctx, "git", full...)
		return err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "examples for the benchmark"}} {
		if err := git(args...); err != nil {
			return "", err
		}
	}
	return repo, nil
}

// benchEndToEnd is (a): `hoist run` of one example against bench/baseline.sh
// doing the same with the docker CLI, both delivering to reg.
func benchEndToEnd(ctx context.Context, e *env, rep *report, reg, example string, rounds int) error {
	repo, err := e.examplesRepo(ctx)
	if err != nil {
		return err
	}
	indexDir := filepath.Join(repo, "examples", "index.d")
	res, err := index.Load(indexDir)
	if err != nil {
		return err
	}
	var p pipeline.Project
	for _, q := range res.Projects {
		if q.Image().Repository() == "examples/"+example {
			p = q
		}
	}
	if p.JobID == "" {
		return fmt.Errorf("examples/%s is not in %s (%d errors there)", example, indexDir, len(res.Errors()))
	}
	hoistBin := filepath.Join(e.root, "bin", "hoist")
	script := filepath.Join(e.root, "bench", "baseline.sh")
	work := filepath.Join(e.tmp, "a")

	runHoist := func(label string, extra ...string) (time.Duration, error) {
		data := filepath.Join(work, "hoist-data-"+label) // fresh each round
		defer os.RemoveAll(data)
		args := append([]string{"run", "--index", indexDir,
			"--only", p.Image().Repository(), "--data", data, "--registry", reg}, extra...)
		return e.timed(ctx, exec.CommandContext(ctx, hoistBin, args...))
	}
	runBaseline := func(label string) (time.Duration, error) {
		dir := filepath.Join(work, "baseline-"+label)
		defer os.RemoveAll(dir)
		cmd := exec.CommandContext(ctx, "/bin/sh", script)
		cmd.Env = append(os.Environ(),
			"REPO="+p.GitURL, "BRANCH="+p.GitBranch, "GIT_PATH="+orDot(p.GitPath),
			"TARGET_FILE="+p.TargetFile, "BUILD_CONTEXT="+orDot(p.BuildContext),
			"PREBUILD_SCRIPT="+p.PrebuildScript, "PREBUILD_CONTEXT="+p.PrebuildContext,
			"IMAGE="+p.Image().Repository(), "TAG="+p.Image().Tag, "REGISTRY="+reg, "WORK="+dir)
		return e.timed(ctx, cmd)
	}
	// The three contestants: hoist run as its user runs it (the project
	// trusted, its prebuild on the host), the same with --sandbox (the
	// prebuild in the toolbox container, as hoist serve runs an untrusted
	// project's), and the hand-run baseline.
	contestants := map[string]func(label string) (time.Duration, error){
		"hoist":    func(l string) (time.Duration, error) { return runHoist(l) },
		"sandbox":  func(l string) (time.Duration, error) { return runHoist("sandbox-"+l, "--sandbox") },
		"baseline": runBaseline,
	}
	order := []string{"hoist", "sandbox", "baseline"}
	if example != "busybox" { // hello's prebuild compiles with the host's go, which the toolbox lacks
		order = []string{"hoist", "baseline"}
	}

	// Untimed: warms the Docker layer cache, the Go build cache and the
	// page cache for every side, so that all run in the same cache state.
	progress("(a) untimed warm-up: hoist run, hoist run --sandbox, then baseline.sh")
	for _, who := range order {
		if _, err := contestants[who]("warm"); err != nil {
			return fmt.Errorf("warm-up of %s: %w", who, err)
		}
	}
	got := map[string][]time.Duration{}
	for i := range rounds {
		// Rotate who goes first, to share the noise.
		for k := range order {
			who := order[(i+k)%len(order)]
			d, err := contestants[who](fmt.Sprint(i + 1))
			if err != nil {
				return fmt.Errorf("%s: %w", who, err)
			}
			got[who] = append(got[who], d)
		}
		progress("(a) round %d/%d: hoist %s, baseline %s", i+1, rounds, fmtDur(got["hoist"][i]), fmtDur(got["baseline"][i]))
	}
	hs, ss, bs := got["hoist"], got["sandbox"], got["baseline"]
	rep.info = append(rep.info, fmt.Sprintf("(a) uses examples/%s: %s.", example, whyExample[example]))
	rep.rows = append(rep.rows, row{
		name:  fmt.Sprintf("(a) end to end, examples/%s, checkout..deliver", example),
		hoist: hs, baseline: bs, ratio: ratio("hoist/baseline", hs, bs),
	})
	rep.how = append(rep.how, fmt.Sprintf("(a) wall time of `bin/hoist run --index <git copy of examples>/examples/index.d --only %s --data <fresh dir> --registry %s` "+
		"vs `bench/baseline.sh` (git clone --depth 1, the prebuild, docker build, push :test, start check, tag+push :rc and :%s) to the same docker-registry; "+
		"one untimed run of each first (warm layer and Go caches), then %d rounds rotating who goes first. hoist: %s; baseline: %s",
		p.Image().Repository(), reg, p.Image().Tag, rounds, samples(hs), samples(bs)))
	if ss == nil {
		return nil
	}
	rep.rows = append(rep.rows, row{
		name:  "(a2) the same, sandboxed (hoist run --sandbox) vs trusted",
		hoist: ss, baseline: hs, ratio: ratio("sandboxed/trusted", ss, hs),
	})
	rep.how = append(rep.how, fmt.Sprintf("(a2) the same `bin/hoist run` with --sandbox: the prebuild script runs in Hoist's toolbox container (as hoist serve runs an untrusted project's) instead of on the host; "+
		"its ratio is the sandbox's overhead; it runs in the same rounds as (a). sandboxed: %s", samples(ss)))
	return nil
}

func orDot(s string) string {
	if s == "" || s == "/" {
		return "."
	}
	return s
}

// progress reports what the benchmark is doing, on standard error.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
