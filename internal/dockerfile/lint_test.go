package dockerfile

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"

	"github.com/hoistci/hoist/internal/pipeline"
)

var updateLint = flag.Bool("update-lint", false, "rewrite testdata/lint/*.want")

// renderLint is what a .want file holds: one line per finding, then the
// error if any.
func renderLint(findings []pipeline.LintFinding, err error) string {
	var b strings.Builder
	for _, f := range findings {
		fmt.Fprintf(&b, "%s:%d:%d %s: %s\n", f.File, f.Line, f.Column, f.Rule, f.Message)
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	if b.Len() == 0 {
		return "no findings\n"
	}
	return b.String()
}

// TestLintFixtures lints every testdata/lint/*.Dockerfile and compares
// the findings (or the error) with its .want file, written by hand: each
// rule fires at exactly the lines listed there and nowhere else.
func TestLintFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/lint/*.Dockerfile")
	if err != nil || len(files) < 20 {
		t.Fatalf("fixtures: %v, %v", files, err)
	}
	rules := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			content, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			findings, err := Linter{}.Lint(context.Background(), "Dockerfile", content, nil)
			for _, f := range findings {
				rules[f.Rule] = true
				if f.Description == "" || !strings.HasPrefix(f.URL, "https://docs.docker.com/") || f.File != "Dockerfile" {
					t.Errorf("finding %+v lacks a description, URL or file", f)
				}
			}
			got := renderLint(findings, err)
			want := strings.TrimSuffix(file, ".Dockerfile") + ".want"
			if *updateLint {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update-lint to create it)", err)
			}
			if diff := cmp.Diff(string(w), got); diff != "" {
				t.Errorf("lint of %s differs from %s (-want +got):\n%s", file, want, diff)
			}
		})
	}
	t.Run("rules covered", func(t *testing.T) {
		for _, r := range []string{
			"JSONArgsRecommended", "StageNameCasing", "FromAsCasing", "ConsistentInstructionCasing",
			"DuplicateStageName", "ReservedStageName", "MaintainerDeprecated", "UndefinedVar",
			"UndefinedArgInFrom", "WorkdirRelativePath", "LegacyKeyValueFormat", "SecretsUsedInArgOrEnv",
			"MultipleInstructionsDisallowed", "NoEmptyContinuation", "ExposeProtoCasing", "ExposeInvalidFormat",
		} {
			if !rules[r] {
				t.Errorf("no fixture fires %s", r)
			}
		}
	})
}

func TestLintSortedAndLocated(t *testing.T) {
	src := "FROM busybox as Build\nENV A 1\nCMD x\nmaintainer me\n"
	findings, err := Linter{}.Lint(context.Background(), "sub/Dockerfile.prod", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := renderLint(findings, nil)
	want := `sub/Dockerfile.prod:1:1 FromAsCasing: 'as' and 'FROM' keywords' casing do not match
sub/Dockerfile.prod:1:1 StageNameCasing: Stage name 'Build' should be lowercase
sub/Dockerfile.prod:2:1 LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format
sub/Dockerfile.prod:3:1 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
sub/Dockerfile.prod:4:1 ConsistentInstructionCasing: Command 'maintainer' should match the case of the command majority (uppercase)
sub/Dockerfile.prod:4:1 MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLintBuildArgs(t *testing.T) {
	src := []byte("ARG TAG\nFROM busybox:${TAG}\nARG MODE\nENV M=$MODE\n")
	// Without a value, TAG leaves "busybox:", which cannot be built.
	_, err := Linter{}.Lint(context.Background(), "Dockerfile", src, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: ") {
		t.Errorf("without TAG: err = %v, want an error at Dockerfile:2", err)
	}
	args := map[string]string{"TAG": "1.36"}
	findings, err := Linter{}.Lint(context.Background(), "Dockerfile", src, args)
	if err != nil {
		t.Fatal(err)
	}
	if got := renderLint(findings, nil); got != "Dockerfile:2:1 InvalidDefaultArgInFrom: Default value for ARG busybox:${TAG} results in empty or invalid base image name\n" {
		t.Errorf("with TAG: %s", got)
	}
	if args["TAG"] != "1.36" || len(args) != 1 {
		t.Errorf("Lint changed the caller's build args: %v", args)
	}
}

func TestLintErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown instruction", "FROM busybox\nRUN true\nFORM busybox\n",
			`Dockerfile:3: unknown instruction: FORM (did you mean FROM?) (in "FORM busybox")`},
		{"empty", "", "Dockerfile: the Dockerfile has no instructions; it needs at least a FROM line"},
		{"blank", "\n  \n\t\n", "Dockerfile: the Dockerfile has no instructions; it needs at least a FROM line"},
		{"comments only", "# a\n# syntax=docker/dockerfile:1\n", "Dockerfile: the Dockerfile has no instructions; it needs at least a FROM line"},
		{"no FROM", "RUN true\n", `Dockerfile:1: no build stage in current context (in "RUN true")`},
		{"bad check directive", "# check=skip\nFROM busybox\n", `Dockerfile:1: failed to parse check options: invalid check option "skip" (in "# check=skip")`},
		{"huge line", "FROM busybox\nRUN echo " + strings.Repeat("x", 70000) + "\n", "Dockerfile:2: dockerfile line greater than max allowed size of 65535 (in \"RUN echo " + strings.Repeat("x", 68) + "...\")"},
		{"circular stages", "FROM a AS b\nFROM b AS a\nCOPY --from=a /x /y\n", `Dockerfile:3: circular dependency detected on stage: a (in "COPY --from=a /x /y")`},
		{"ONBUILD FROM", "FROM busybox\nONBUILD FROM x\n", `Dockerfile:2: FROM isn't allowed as an ONBUILD trigger (in "ONBUILD FROM x")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, err := Linter{}.Lint(context.Background(), "Dockerfile", []byte(tt.src), nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
			if findings != nil {
				t.Errorf("findings = %v, want none with a parse error", findings)
			}
		})
	}
}

// TestLintCheckErrorDirective: "# check=error=true" turns findings into an
// error, still with the findings; without findings it is no error.
func TestLintCheckErrorDirective(t *testing.T) {
	findings, err := Linter{}.Lint(context.Background(), "Dockerfile", []byte("# check=error=true\nFROM busybox\nCMD x\nENV A 1\n"), nil)
	if len(findings) != 2 || findings[0].Rule != "JSONArgsRecommended" || findings[1].Rule != "LegacyKeyValueFormat" {
		t.Errorf("findings = %+v", findings)
	}
	want := `Dockerfile:3: the Dockerfile's "# check=error=true" makes its lint findings errors (JSONArgsRecommended, LegacyKeyValueFormat); fix them, or skip rules with "# check=skip=Rule"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	findings, err = Linter{}.Lint(context.Background(), "Dockerfile", []byte("# check=error=true;skip=JSONArgsRecommended\nFROM busybox\nCMD x\n"), nil)
	if err != nil || findings != nil {
		t.Errorf("all skipped: %v, %v", findings, err)
	}
}

func TestLintCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Linter{}).Lint(ctx, "Dockerfile", []byte("FROM busybox\n"), nil); err == nil {
		t.Error("a cancelled context: no error")
	}
}

// TestLintNoNetwork runs the linter in a child process whose HTTP(S)
// proxy is a listener here that counts connections, on a Dockerfile whose
// images live on Docker Hub and on a private registry. The linter must
// answer at once, with its findings, and nothing may connect. A control
// child lints the same file with buildkit's default image resolver: it
// does dial, which shows the proxy catches a linter that goes online.
func TestLintNoNetwork(t *testing.T) {
	if os.Getenv("HOIST_LINT_CHILD") != "" {
		lintChild(t, os.Getenv("HOIST_LINT_CHILD"))
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	run := func(mode string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLintNoNetwork$", "-test.v")
		proxy := "http://" + ln.Addr().String()
		cmd.Env = append(os.Environ(), "HOIST_LINT_CHILD="+mode,
			"HTTP_PROXY="+proxy, "HTTPS_PROXY="+proxy, "http_proxy="+proxy, "https_proxy="+proxy,
			"NO_PROXY=", "no_proxy=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s child: %v\n%s", mode, err, out)
		}
		return string(out)
	}
	run("hoist")
	if n := conns.Load(); n != 0 {
		t.Errorf("Hoist's linter made %d connections", n)
	}
	run("buildkit-default")
	if conns.Load() == 0 {
		t.Error("the control (buildkit's default resolver) made no connection: the proxy does not catch dialing")
	}
}

const remoteDockerfile = "FROM docker.io/library/golang:1.26 AS build\nRUN true\n" +
	"FROM registry.example.com:5000/ns/base:1\nCOPY --from=build /x /x\nCOPY --from=quay.io/ns/tool:2 /t /t\nCMD run\n"

func lintChild(t *testing.T, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	switch mode {
	case "hoist":
		findings, err := Linter{}.Lint(ctx, "Dockerfile", []byte(remoteDockerfile), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != 1 || findings[0].Rule != "JSONArgsRecommended" || findings[0].Line != 6 {
			t.Errorf("findings = %+v, want JSONArgsRecommended at line 6", findings)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Lint took %v", d)
		}
	case "buildkit-default":
		// One image: buildkit's own resolver races when several lookups
		// fail at once (a shared error gets its location set twice).
		src := []byte("FROM docker.io/library/golang:1.26\nCMD run\n")
		sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", src)
		sm.Definition = &llb.Definition{}
		res, err := dockerfile2llb.DockerfileLint(ctx, src, dockerfile2llb.ConvertOpt{SourceMap: sm})
		if err != nil {
			t.Fatal(err)
		}
		if res.Error == nil {
			t.Errorf("buildkit's default resolver reached the images")
		}
	}
}

// TestLintConcurrent: Lint holds no state; many at once (run with -race)
// give the same answer.
func TestLintConcurrent(t *testing.T) {
	src := []byte(remoteDockerfile + "FROM busybox AS x\nFROM busybox AS x\nENV A $B\n")
	want, wantErr := Linter{}.Lint(context.Background(), "Dockerfile", src, nil)
	if wantErr != nil || len(want) != 3 {
		t.Fatalf("Lint = %s", renderLint(want, wantErr))
	}
	errc := make(chan string, 8)
	for range 8 {
		go func() {
			got, err := Linter{}.Lint(context.Background(), "Dockerfile", src, nil)
			errc <- cmp.Diff(renderLint(want, wantErr), renderLint(got, err))
		}()
	}
	for range 8 {
		if diff := <-errc; diff != "" {
			t.Errorf("concurrent Lint differs:\n%s", diff)
		}
	}
}
