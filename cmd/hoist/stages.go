package main

import (
	"flag"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/checks"
	"github.com/hoistci/hoist/internal/checks/scan"
	"github.com/hoistci/hoist/internal/dockerfile"
	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/source"
)

// stageFlags configure the lint, test and scan stages; run, serve and
// scan share them.
type stageFlags struct {
	testTimeout time.Duration
	sizeBudget  sizeFlag
	cveScanner  string
	exec        executorFlags
}

// register adds the stage flags to fs.
func (s *stageFlags) register(fs *flag.FlagSet) {
	s.sizeBudget = 1 << 30
	fs.DurationVar(&s.testTimeout, "test-timeout", 30*time.Minute, "how long a test-script, a structure test or an autotest may run")
	fs.Var(&s.sizeBudget, "size-budget", "the size check's default budget, e.g. 500MB (a project's cccp.yml size-budget wins)")
	s.exec.register(fs)
	fs.StringVar(&s.cveScanner, "cve-scanner", "", `an external CVE scanner printing JSON, run with the image: e.g. "trivy image --format json {image}" ({image} or $HOIST_IMAGE)`)
}

// scanner is the scan stage's scanner.
func (s *stageFlags) scanner(env *env) *scan.Scanner {
	return scan.New(pipeline.SharedLayers(env.registry), env.exec, scan.Options{CVECommand: strings.Fields(s.cveScanner)})
}

// deps are the adapters a runner drives, on env.
func (s *stageFlags) deps(env *env) runner.Deps {
	scripts := &script.Runner{}
	sandbox := env.exec.Sandbox()
	git := source.New()
	return runner.Deps{
		Source:   s.exec.source(env.exec, git),
		Heads:    git,
		Engine:   env.exec,
		Registry: env.registry,
		Tester: checks.New(checks.Deps{Engine: env.exec, Containers: env.exec, Layers: pipeline.SharedLayers(env.registry), Scripts: scripts, Sandbox: sandbox},
			checks.Options{ScriptTimeout: s.testTimeout, SizeBudget: int64(s.sizeBudget), ScriptsBeside: s.exec.kubernetes()}),
		Scripts:     scripts,
		Sandbox:     sandbox,
		RepoConfigs: index.RepoConfigs{},
		Dockerfiles: dockerfile.Reader{},
		Linter:      dockerfile.Linter{},
		Scanner:     s.scanner(env),
		Referrers:   env.registry,
		Reaper:      env.exec,
		Store:       env.store,
		Deliveries:  env.store,
	}
}

// artifactDir is where builds' artifacts are written as files.
func artifactDir(data string) string { return filepath.Join(data, "artifacts") }
