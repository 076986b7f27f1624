package dockerfile

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Linter lints Dockerfiles with buildkit's rules (the checks of "docker
// build --check"), offline: base images are never looked up, so the rules
// that need their metadata stay quiet rather than guess (see Lint).
// It implements pipeline.Linter and holds no state.
type Linter struct{}

var _ pipeline.Linter = Linter{}

// Lint returns the findings of buildkit's lint rules on content, sorted by
// line and column; file names the Dockerfile in findings and errors, and
// buildArgs are the build's --build-arg values.
//
// The Dockerfile's own directives are honoured as buildkit honours them:
// "# check=skip=Rule1,Rule2" (or skip=all) leaves rules out, and
// "# check=experimental=..." turns experimental rules on. With
// "# check=error=true" a build fails on any finding: Lint then returns the
// findings and an error naming their rules. Every other error means the
// Dockerfile cannot be built, names file:line and what is wrong (with
// buildkit's suggestion, "did you mean FROM?", when it has one), and comes
// without findings.
//
// No base image is resolved: each is taken to be a non-empty image of the
// target platform with no configuration. So InvalidBaseImagePlatform never
// fires, and UndefinedVar is not reported in stages built on an image
// (rather than on scratch or on another such stage), whose environment may
// well define the variable.
func (Linter) Lint(ctx context.Context, file string, content []byte, buildArgs map[string]string) (findings []pipeline.LintFinding, err error) {
	if file == "" {
		file = "Dockerfile"
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if isBlank(content) {
		return nil, fmt.Errorf("%s: the Dockerfile has no instructions; it needs at least a FROM line", file)
	}
	defer func() {
		// buildkit's linter should never panic; if it does, say so
		// rather than take the server down or pass the Dockerfile.
		if p := recover(); p != nil {
			findings = nil
			err = fmt.Errorf("%s: buildkit's linter failed on this Dockerfile: %v\n%s", file, p, debug.Stack())
		}
	}()

	// buildkit's variable scanner prints "invalid UTF-8 encoding" to
	// stderr and its messages would carry the bytes: read each byte that
	// is not UTF-8 as "?", which keeps every line and column.
	content = asUTF8(content)
	sm := llb.NewSourceMap(nil, file, "Dockerfile", content)
	sm.Definition = &llb.Definition{} // the lint results' source; no LLB is made
	opt := dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{BuildArgs: maps.Clone(buildArgs)},
		SourceMap:    sm,
		MetaResolver: offlineResolver{},
	}
	if opt.BuildArgs == nil {
		opt.BuildArgs = map[string]string{}
	}
	res, err := dockerfile2llb.DockerfileLint(ctx, content, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	strict := errorOnFindings(content)
	if res.Error != nil && !(strict && len(res.Warnings) > 0 && strings.HasPrefix(res.Error.Message, "lint violation found")) {
		return nil, buildError(file, content, res.Error.Message, res.Error.Location.Ranges)
	}

	quiet := quietUndefinedVar(content, buildArgs)
	seen := map[pipeline.LintFinding]bool{}
	for _, w := range res.Warnings {
		f := pipeline.LintFinding{
			Rule:        w.RuleName,
			Description: w.Description,
			Message:     w.Detail,
			URL:         w.URL,
			File:        file,
		}
		if w.Location != nil && len(w.Location.Ranges) > 0 && w.Location.Ranges[0].Start != nil {
			f.Line = int(w.Location.Ranges[0].Start.Line)
			f.Column = int(w.Location.Ranges[0].Start.Character) + 1
		}
		if f.Rule == linter.RuleUndefinedVar.Name && quiet(f.Line) {
			continue
		}
		if !seen[f] {
			seen[f] = true
			findings = append(findings, f)
		}
	}
	slices.SortStableFunc(findings, func(a, b pipeline.LintFinding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Rule, b.Rule))
	})
	if len(findings) > 0 && strict {
		var rules []string
		for _, f := range findings {
			if !slices.Contains(rules, f.Rule) {
				rules = append(rules, f.Rule)
			}
		}
		return findings, fmt.Errorf("%s:%d: the Dockerfile's \"# check=error=true\" makes its lint findings errors (%s); fix them, or skip rules with \"# check=skip=Rule\"",
			file, findings[0].Line, strings.Join(rules, ", "))
	}
	return findings, nil
}

// asUTF8 returns content with every byte that is not part of valid UTF-8
// replaced by "?".
func asUTF8(content []byte) []byte {
	if utf8.Valid(content) {
		return content
	}
	out := make([]byte, 0, len(content))
	for len(content) > 0 {
		r, n := utf8.DecodeRune(content)
		if r == utf8.RuneError && n == 1 {
			out = append(out, '?')
		} else {
			out = append(out, content[:n]...)
		}
		content = content[n:]
	}
	return out
}

// isBlank reports whether content holds no instruction: nothing, blank
// lines, comments and parser directives only.
func isBlank(content []byte) bool {
	for line := range bytes.Lines(content) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

// buildError makes buildkit's build error into "file:line: message", with
// the line's text when it helps.
func buildError(file string, content []byte, msg string, ranges []*pb.Range) error {
	// buildkit's parser prefixes its own "dockerfile parse error on line
	// N: "; the location already says where.
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		rest := msg[i+len("dockerfile parse error on line "):]
		if _, after, ok := strings.Cut(rest, ": "); ok {
			msg = msg[:i] + after
		}
	}
	line := 0
	if len(ranges) > 0 && ranges[0].Start != nil {
		line = int(ranges[0].Start.Line)
	}
	switch {
	case strings.Contains(msg, "check option"):
		line = checkDirectiveLine(content)
	case strings.Contains(msg, "line greater than max allowed size"):
		line = longLine(content) // buildkit names the line before it
	}
	if line <= 0 {
		return fmt.Errorf("%s: %s", file, msg)
	}
	if text := lineText(content, line); text != "" && !strings.Contains(msg, text) {
		msg += fmt.Sprintf(" (in %q)", text)
	}
	return fmt.Errorf("%s:%d: %s", file, line, msg)
}

// longLine returns the first line longer than the parser takes, or 0.
func longLine(content []byte) int {
	n := 0
	for line := range bytes.Lines(content) {
		n++
		if len(bytes.TrimRight(line, "\r\n")) >= bufio.MaxScanTokenSize {
			return n
		}
	}
	return 0
}

// lineText returns line n of content, trimmed and cut to 80 bytes.
func lineText(content []byte, n int) string {
	i := 0
	for line := range bytes.Lines(content) {
		if i++; i == n {
			t := strings.TrimSpace(string(line))
			if len(t) > 80 {
				t = strings.ToValidUTF8(t[:77], "") + "..."
			}
			return t
		}
	}
	return ""
}

// checkDirectiveLine returns the line of the "# check=" parser directive,
// or 0.
func checkDirectiveLine(content []byte) int {
	n := 0
	for line := range bytes.Lines(content) {
		n++
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] != '#' {
			return 0
		}
		name, _, ok := bytes.Cut(bytes.TrimSpace(t[1:]), []byte("="))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "check") {
			return n
		}
	}
	return 0
}

// errorOnFindings reports whether the Dockerfile's check directive says
// "error=true".
func errorOnFindings(content []byte) bool {
	v, _, _, ok := parser.ParseDirective("check", content)
	if !ok {
		return false
	}
	cfg, err := linter.ParseLintOptions(v)
	return err == nil && cfg.ReturnAsError
}

// quietUndefinedVar returns whether an UndefinedVar finding on a line is
// to be dropped: the line is in a stage whose environment comes partly
// from a base image Hoist did not look up.
func quietUndefinedVar(content []byte, buildArgs map[string]string) func(line int) bool {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return func(int) bool { return false }
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return func(int) bool { return false }
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = expand(*kv.Value, args)
			} else if _, ok := args[kv.Key]; !ok {
				args[kv.Key] = ""
			}
		}
	}
	for k, v := range buildArgs {
		if _, declared := args[k]; declared {
			args[k] = v
		}
	}
	type span struct {
		start int
		known bool // the stage's whole environment is in the Dockerfile
	}
	var spans []span
	knownByName := map[string]bool{}
	for _, st := range stages {
		base := strings.ToLower(expand(st.BaseName, args))
		known := base == "scratch"
		if k, ok := knownByName[base]; ok {
			known = k
		}
		if st.Name != "" {
			knownByName[strings.ToLower(st.Name)] = known
		}
		start := 0
		if len(st.Location) > 0 {
			start = st.Location[0].Start.Line
		}
		spans = append(spans, span{start, known})
	}
	return func(line int) bool {
		quiet := false
		for _, s := range spans {
			if s.start > line {
				break
			}
			quiet = !s.known
		}
		return quiet
	}
}

// offlineResolver answers buildkit's image lookups without the network:
// every image is a one-layer image of the platform asked for, with an
// empty configuration.
type offlineResolver struct{}

// emptyLayer is the diff ID of an empty tar: a layer, so that buildkit
// does not take the image for scratch.
const emptyLayer = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// ResolveImageConfig implements buildkit's ImageMetaResolver.
func (offlineResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	if err := ctx.Err(); err != nil {
		return "", "", nil, err
	}
	img := map[string]any{
		"os":           "linux",
		"architecture": "amd64",
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{emptyLayer}},
		"config":       map[string]any{},
	}
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p := opt.ImageOpt.Platform
		img["os"], img["architecture"] = p.OS, p.Architecture
		if p.Variant != "" {
			img["variant"] = p.Variant
		}
		if p.OSVersion != "" {
			img["os.version"] = p.OSVersion
		}
	}
	dt, err := json.Marshal(img)
	return ref, "", dt, err
}
