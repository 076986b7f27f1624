package index

import (
	"path"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/hoistci/hoist/internal/pipeline"
)

// paths reads git-path, target-file and build-context. The last two are
// relative to git-path and may climb out of it ("../") as long as they stay
// inside the repository.
func (ep *entryParser) paths() {
	gitPath, ok := ep.gitPath()
	ep.e.p.TargetFile = ep.underGitPath(keyTargetFile, gitPath, ok, "")
	ep.e.p.BuildContext = ep.underGitPath(keyBuildContext, gitPath, ok, ".")
}

func (ep *entryParser) gitPath() (string, bool) {
	s, at, ok := ep.required(keyGitPath)
	if !ok {
		return "", false
	}
	c, err := pipeline.CleanRel(s)
	if err != nil {
		ep.errorf(at, `git-path %q escapes the repository; give a folder inside it, "/" for the root`, s)
		return "", false
	}
	ep.e.p.GitPath = c
	return c, true
}

// underGitPath reads key, a path relative to git-path. def is its default
// when it is missing; "" makes it required and a file, not a folder.
func (ep *entryParser) underGitPath(key, gitPath string, gitPathOK bool, def string) string {
	s, at, ok := ep.str(key)
	if def == "" {
		s, at, ok = ep.requiredStr(key, s, at, ok)
	}
	if !ok {
		return def
	}
	c := path.Clean(s)
	switch {
	case strings.HasPrefix(s, "/"):
		ep.errorf(at, "%s %q must be relative to git-path, not start with \"/\"", key, s)
	case def == "" && (c == "." || strings.HasSuffix(s, "/") || c == ".." || strings.HasSuffix(c, "/..")):
		ep.errorf(at, "%s %q must name a file, not a folder", key, s)
	case gitPathOK:
		if _, err := pipeline.JoinRel(gitPath, s); err != nil {
			ep.errorf(at, "%s %q escapes the repository: it is relative to git-path %q; give a path that stays inside", key, s, slashed(gitPath))
		}
	}
	return c
}

// slashed shows a cleaned repository path the way users write it.
func slashed(p string) string {
	if p == "." || p == "" {
		return "/"
	}
	return p + "/"
}

// prebuild reads prebuild-script and prebuild-context, both relative to
// the repository root. A script needs its context; a context alone is
// ignored, as upstream ignored it.
func (ep *entryParser) prebuild() {
	script, scriptAt, hasScript := ep.str(keyPrebuildScript)
	dir, dirAt, hasDir := ep.str(keyPrebuildContext)
	switch {
	case hasScript && !hasDir:
		ep.errorf(scriptAt, "prebuild-script needs prebuild-context, the folder to run it in (relative to the repository root); add \"prebuild-context: /\" for the root")
	case hasDir && !hasScript:
		ep.r.warnf(dirAt, "prebuild-context is ignored without prebuild-script (upstream ignored it too); add \"prebuild-script: <script, relative to the repository root>\" or remove prebuild-context")
	}
	if hasScript {
		ep.e.p.PrebuildScript = ep.rootPath(keyPrebuildScript, script, scriptAt, true)
	}
	if hasDir && hasScript {
		ep.e.p.PrebuildContext = ep.rootPath(keyPrebuildContext, dir, dirAt, false)
	}
}

// rootPath checks a path relative to the repository root.
func (ep *entryParser) rootPath(key, s string, at pos, file bool) string {
	c, err := pipeline.CleanRel(s)
	switch {
	case err != nil:
		ep.errorf(at, "%s %q escapes the repository; it is relative to the repository root", key, s)
	case file && (c == "." || strings.HasSuffix(s, "/")):
		ep.errorf(at, "%s %q must name a file, not a folder", key, s)
	}
	return c
}

// dependsOn reads depends-on: null, one image reference or a list of them.
func (ep *entryParser) dependsOn() {
	f, ok := ep.fields[keyDependsOn]
	if !ok || isNull(f.node) {
		return
	}
	if seq, isSeq := f.node.(*ast.SequenceNode); isSeq {
		for _, item := range seq.Values {
			ep.dep(item, true)
		}
		return
	}
	if s, _ := scalarText(f.node); (s == "" || s == "null") && !isBadType(f.node) {
		return // an empty string is no dependency, nor is "null", as upstream read it
	}
	ep.dep(f.node, false)
}

// dep reads one depends-on reference.
func (ep *entryParser) dep(n ast.Node, inList bool) {
	at := posOf(n)
	v := ep.t.resolve(n)
	s, ok := scalarText(v)
	if !ok {
		what := "depends-on must be an image reference (namespace/name:tag) or a list of them"
		if inList {
			what = "each item of depends-on must be an image reference (namespace/name:tag)"
		}
		ep.errorf(at, "%s, got %s", what, kindOf(v))
		return
	}
	ref, err := pipeline.ParseImageRef(s)
	if err != nil {
		ep.errorf(at, "depends-on: %v", err)
		return
	}
	ep.e.deps = append(ep.e.deps, dep{ref: ref, at: at})
	ep.e.p.DependsOn = append(ep.e.p.DependsOn, ref)
}
