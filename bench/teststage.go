package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// The test stage's benchmarks (issue 11):
//
// (d) one server app (busybox httpd serving a page, FROM a busybox base)
// whose test-script starts it, waits 1 s and fetches the page: `hoist run
// --only` of the changed app against bench/baseline.sh doing the same by
// hand with TEST_SCRIPT (clone, build, push :test, the test-script, tag and
// push :rc and the final tag; no predefined checks at all). Hoist's
// overhead is its total minus its build stage and its test-script.
//
// (e) 20 such apps, all changed: `hoist run --workers 2` against `docker
// build` of the same 20 folders, 2 at a time: the engine's own build
// throughput.

// serverApps is how many apps (e) changes and builds.
const serverApps = 20

// appDockerfile is every app's Dockerfile: the web example's, FROM the
// bench's own busybox base (bench/PREFIXbase, PREFIX given to appsIndex).
const appDockerfile = `FROM bench/PREFIXbase:latest
COPY index.html /www/index.html
EXPOSE 8080
USER 65534
CMD ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
`

// appTestScript starts the image under test, waits 1 s and fetches the
// page, as a user's test-script of such an app does. Beside the image (the
// Kubernetes executor runs every test-script there, with TARGET_HOST) the
// image runs already: it only waits the same 1 s.
const appTestScript = `#!/bin/sh
set -eu
if [ -n "${TARGET_HOST:-}" ]; then
  sleep 1
  url="http://$TARGET_HOST:8080/"
else
  cid=$(docker run -d -p 127.0.0.1::8080 "$IMAGE")
  trap 'docker rm -f "$cid" >/dev/null' EXIT
  sleep 1
  port=$(docker port "$cid" 8080/tcp | head -1 | sed 's/.*://')
  url="http://127.0.0.1:$port/"
fi
page=$(wget -q -O - "$url" 2>/dev/null || busybox wget -q -O - "$url")
echo "$page" | grep -q 'served by'
echo "the page is served"
`

// appsIndex writes the base bench/PREFIXbase (the busybox example) and n
// apps bench/PREFIX1..n, each in its own git repository, and returns the
// index folder and the apps' folders.
func appsIndex(ctx context.Context, e *env, dir, prefix string, n int) (string, []string, error) {
	var idx strings.Builder
	idx.WriteString("Projects:\n")
	base, err := e.baseRepo(ctx, dir, prefix+"base", 1)
	if err != nil {
		return "", nil, err
	}
	idx.WriteString(base)
	var repos []string
	for i := 1; i <= n; i++ {
		repo := filepath.Join(dir, "repos", fmt.Sprintf("%s%d", prefix, i))
		files := map[string]string{
			"Dockerfile": strings.Replace(appDockerfile, "PREFIX", prefix, 1),
			"index.html": fmt.Sprintf("<p>app %d, served by busybox httpd</p>\n", i),
		}
		if i == 1 { // the (d) app: a test-script
			files["test.sh"] = appTestScript
			files["cccp.yml"] = "job-id: " + prefix + "1\ntest-script: test.sh\n"
		}
		if err := os.MkdirAll(filepath.Join(repo, "app"), 0o755); err != nil {
			return "", nil, err
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(repo, "app", name), []byte(body), 0o755); err != nil {
				return "", nil, err
			}
		}
		if err := e.gitCommit(ctx, repo); err != nil {
			return "", nil, err
		}
		repos = append(repos, repo)
		fmt.Fprintf(&idx, `  - id: %d
    app-id: bench
    job-id: %s%d
    git-url: %s
    git-branch: main
    git-path: app
    target-file: Dockerfile
    desired-tag: latest
    notify-email: bench@hoist.invalid
    build-context: ./
    depends-on: bench/%sbase:latest
`, i+1, prefix, i, repo, prefix)
	}
	path := filepath.Join(dir, "index.d", "bench.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", nil, err
	}
	return filepath.Dir(path), repos, os.WriteFile(path, []byte(idx.String()), 0o644)
}

// change commits a new page to repo, so that its next build has changed
// source (and the engine's cache cannot serve the COPY).
func (e *env) change(ctx context.Context, repo string, n int) error {
	page := filepath.Join(repo, "app", "index.html")
	body, err := os.ReadFile(page)
	if err != nil {
		return err
	}
	body = append(body, fmt.Sprintf("<!-- change %d -->\n", n)...)
	if err := os.WriteFile(page, body, 0o644); err != nil {
		return err
	}
	_, err = e.output(ctx, "git", "-C", repo, "commit", "-q", "-a", "-m", fmt.Sprintf("change %d", n))
	return err
}

func benchTestStage(ctx context.Context, e *env, rep *report, reg string, rounds int) error {
	dir := filepath.Join(e.tmp, "de")
	progress("(d)(e) writing the base and %d server apps", serverApps)
	idx, repos, err := appsIndex(ctx, e, dir, "d", serverApps)
	if err != nil {
		return err
	}
	e.alias("bench/dbase:latest")
	hoistBin := filepath.Join(e.root, "bin", "hoist")
	data := filepath.Join(dir, "data") // kept: the base stays built and unchanged
	hoistRun := func(extra ...string) *exec.Cmd {
		args := append([]string{"run", "--index", idx, "--data", data, "--registry", reg}, extra...)
		return exec.CommandContext(ctx, hoistBin, args...)
	}
	script := filepath.Join(e.root, "bench", "baseline.sh")
	d1 := repos[0]
	baseline := func(label string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "/bin/sh", script)
		cmd.Env = append(os.Environ(),
			"REPO="+d1, "BRANCH=main", "GIT_PATH=app", "TARGET_FILE=Dockerfile", "BUILD_CONTEXT=.",
			"TEST_SCRIPT=test.sh", "IMAGE=bench/d1", "TAG=latest", "REGISTRY="+reg,
			"WORK="+filepath.Join(dir, "baseline-"+label))
		return cmd
	}
	progress("(d)(e) untimed: hoist run builds the base and the %d apps once, then baseline.sh once", serverApps)
	if _, err := e.timed(ctx, hoistRun("--workers", "2")); err != nil {
		return err
	}
	if _, err := e.timed(ctx, baseline("warm")); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "hoist.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	changes := 0
	changeAll := func(repos []string) error {
		changes++
		for _, r := range repos {
			if err := e.change(ctx, r, changes); err != nil {
				return err
			}
		}
		return nil
	}
	var dh, db, overhead, eh, eb []time.Duration
	var ecpuH, ecpuB []time.Duration // (e): the machine's busy CPU time over each side
	var eSplits []cpuSplit           // (e): where hoist's went
	var dParts, eParts breakdown
	apps := make([]string, len(repos))
	for i := range repos {
		apps[i] = fmt.Sprintf("bench/d%d:latest", i+1)
	}
	for i := range rounds {
		// (d): each side builds its own change, the order alternating.
		for k := range 2 {
			if err := changeAll(repos[:1]); err != nil {
				return err
			}
			if (i+k)%2 == 0 {
				start := time.Now()
				d, err := e.timed(ctx, hoistRun("--only", "bench/d1"))
				if err != nil {
					return err
				}
				rbs, err := newestBuilds(ctx, st, apps[:1])
				if err != nil {
					return err
				}
				dParts.stagesOf(rbs[0], start, d)
				o, err := hoistOverhead(ctx, st, "bench/d1:latest", d)
				if err != nil {
					return err
				}
				dh, overhead = append(dh, d), append(overhead, o)
			} else {
				d, err := e.timed(ctx, baseline(fmt.Sprint(i)))
				if err != nil {
					return err
				}
				db = append(db, d)
			}
		}
		// (e): all 20 changed for each side.
		for k := range 2 {
			if err := changeAll(repos); err != nil {
				return err
			}
			if (i+k)%2 == 0 {
				start := time.Now()
				var d time.Duration
				split, err := cpuSplitOf(func() (time.Duration, error) {
					s, _, err := e.measure(ctx, hoistRun("--workers", "2"))
					d = s.d
					return s.cpu, err
				})
				if err != nil {
					return err
				}
				ecpuH, eSplits = append(ecpuH, split.machine), append(eSplits, split)
				rbs, err := newestBuilds(ctx, st, apps)
				if err != nil {
					return err
				}
				eParts.batchOf(rbs, start, d, 2)
				eh = append(eh, d)
			} else {
				var d time.Duration
				cpu, err := cpuOf(func() (err error) {
					d, err = e.buildAll(ctx, reg, repos, 2)
					return err
				})
				if err != nil {
					return err
				}
				eb, ecpuB = append(eb, d), append(ecpuB, cpu)
			}
		}
		progress("(d)(e) round %d/%d: (d) hoist %s (overhead %s), by hand %s; (e) hoist %s, docker build %s", i+1, rounds,
			fmtDur(dh[i]), fmtDur(overhead[i]), fmtDur(db[i]), fmtDur(eh[i]), fmtDur(eb[i]))
	}
	rep.rows = append(rep.rows,
		row{name: "(d) server app, 1 s test-script, changed source", hoist: dh, baseline: db, ratio: ratio("hoist/by hand", dh, db)},
		row{name: "(d) Hoist's overhead: total - build - test-script", hoist: overhead, ratio: fmt.Sprintf("target <= 0.5s; median %s", fmtDur(median(overhead)))},
		row{name: fmt.Sprintf("(e) %d changed apps, 2 at a time", serverApps), hoist: eh, baseline: eb, ratio: ratio("hoist/docker build", eh, eb)},
		row{name: "(e) the machine's busy CPU time", hoist: ecpuH, baseline: ecpuB, ratio: fmt.Sprintf("%s; hoist's on %d cores: >= %s of wall time",
			ratio("hoist/docker build", ecpuH, ecpuB), runtime.NumCPU(), fmtDur(median(ecpuH)/time.Duration(runtime.NumCPU())))},
	)
	rep.how = append(rep.how,
		fmt.Sprintf("(d) wall time of `bin/hoist run --only bench/d1` (a busybox httpd app FROM a busybox base the same data folder already built; its test-script starts it, sleeps 1 s and fetches the page), "+
			"every round after a new commit of its page, vs `bench/baseline.sh` with TEST_SCRIPT (clone, build, push :test, the same test-script, tag+push :rc and :latest; no predefined checks), also after a new commit; "+
			"order alternating. Overhead = total - the build stage - the test-script's own duration, from the run's store. hoist: %s; by hand: %s; overhead: %s",
			samples(dh), samples(db), samples(overhead)),
		fmt.Sprintf("(e) wall time of `bin/hoist run --workers 2` of the base (unchanged) and %d such apps, every app with a new commit, vs `docker build` (classic builder) of the same %d folders, 2 at a time, "+
			"also after new commits; order alternating. hoist: %s; docker build: %s", serverApps, serverApps, samples(eh), samples(eb)),
		fmt.Sprintf("(e) CPU: the busy time of all the machine's cores (/proc/stat: all but idle and iowait) over each side's run, the engine's and its containers' included: "+
			"what each side costs the machine; divided by the cores, a floor under its wall time. hoist: %s; docker build: %s", samples(ecpuH), samples(ecpuB)),
		"(e) hoist's busy CPU time, every round: "+splits(eSplits),
		breakdownHow("(d) where hoist run's time went, from its store", &dParts),
		breakdownHow("(e) where hoist run's time went, from its store", &eParts),
	)
	return nil
}

// hoistOverhead is total minus the build stage and the test-script of
// project's newest build.
func hoistOverhead(ctx context.Context, st *sqlite.Store, project string, total time.Duration) (time.Duration, error) {
	builds, err := st.Builds(ctx, project, 1)
	if err != nil || len(builds) == 0 {
		return 0, fmt.Errorf("the newest build of %s: %v", project, err)
	}
	b := builds[0]
	if b.Status != pipeline.StatusSucceeded {
		return 0, fmt.Errorf("%s #%d %s: %s", project, b.Number, b.Status, b.Reason)
	}
	stages, err := st.Stages(ctx, b.ID)
	if err != nil {
		return 0, err
	}
	o := total
	for _, s := range stages {
		if s.Name == pipeline.StageBuild {
			o -= s.Duration()
		}
	}
	results, err := st.CheckResults(ctx, b.ID)
	if err != nil {
		return 0, err
	}
	found := false
	for _, r := range results {
		if r.ID == "test-script" {
			o -= r.Duration
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("%s #%d has no test-script result", project, b.Number)
	}
	return o, nil
}

// buildAll runs `docker build` of every repo's app folder, par at a time,
// and returns the wall time.
func (e *env) buildAll(ctx context.Context, reg string, repos []string, par int) (time.Duration, error) {
	start := time.Now()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	errs := make([]error, len(repos))
	for i, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", fmt.Sprintf("%s/bench/d%d:bydocker", reg, i+1), filepath.Join(repo, "app"))
			cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("docker build of %s: %v: %s", repo, err, tail(string(out), 5))
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return d, nil
}
