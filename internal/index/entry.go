package index

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/hoistci/hoist/internal/pipeline"
)

// entry is one index entry as it is checked.
type entry struct {
	p     pipeline.Project
	at    pos
	bad   bool // it has an error: it is left out of the projects
	keyOK bool // app-id, job-id and desired-tag are valid: p.Key() names it
	idAt  pos
	hasID bool
	deps  []dep
}

// dep is one depends-on reference and where it is written.
type dep struct {
	ref pipeline.ImageRef
	at  pos
}

// field is a known key of an entry and its value.
type field struct {
	keyAt pos
	at    pos      // of the value; of the key when the value is null
	node  ast.Node // resolved
}

// fileCtx is what the rules need to know about the file being read.
type fileCtx struct {
	base string // the file's base name
	app  string // the app-id the file name asks for; "" in index.yml
	dir  string // the file's folder, absolute, for relative git-urls
}

// entryParser reads and checks one entry.
type entryParser struct {
	t      *tree
	r      *reporter
	ctx    fileCtx
	e      *entry
	fields map[string]field
}

// The allowed forms, said the same way in every message.
const (
	nameRule = `use lowercase letters and digits, separated by ".", "_", "__" or "-"`
	tagRule  = `use up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"`
)

// parseEntry reads the entry n, the index-th (from 1) of its file. It
// returns nil when n is not a mapping.
func parseEntry(t *tree, r *reporter, ctx fileCtx, n ast.Node, index int) *entry {
	ps, ok := t.pairs(t.resolve(n), 0)
	if !ok {
		r.errorf(posOf(n), "entry %d of Projects must be a mapping of keys (id, app-id, job-id, …), got %s",
			index, kindOf(t.resolve(n)))
		return nil
	}
	at := posOf(n)
	ep := &entryParser{t: t, r: r, ctx: ctx, fields: map[string]field{},
		e: &entry{at: at, p: pipeline.Project{Origin: pipeline.Origin{File: r.file, Line: at.line}}}}
	ep.collect(ps)
	if ep.blank() {
		r.warnf(at, "entry %d is blank (app-id, job-id, git-url, git-path and target-file are empty), like the template entry of the old index.yml, and is skipped, as upstream's reader skipped entries without git-url", index)
		return nil
	}
	ep.decode()
	return ep.e
}

// blank reports whether the keys that say what to build are all written
// with empty values: the "id: default" placeholder at the top of index.yml
// in 2016. An entry that leaves them out is not blank but incomplete.
func (ep *entryParser) blank() bool {
	for _, k := range []string{keyAppID, keyJobID, keyGitURL, keyGitPath, keyTargetFile} {
		f, ok := ep.fields[k]
		if !ok {
			return false
		}
		if isNull(f.node) {
			continue
		}
		if s, isScalar := scalarText(f.node); !isScalar || s != "" {
			return false
		}
	}
	return true
}

func (ep *entryParser) errorf(at pos, format string, args ...any) {
	ep.e.bad = true
	ep.r.errorf(at, format, args...)
}

// collect sorts the pairs into known fields, reporting duplicate and
// unknown keys. Keys brought by a merge key yield to the entry's own.
func (ep *entryParser) collect(ps []pair) {
	var unknown []pair
	seen := map[string]pos{}
	for _, p := range ps {
		if first, dup := seen[p.key]; dup {
			if !p.merged {
				ep.errorf(p.keyPos, "key %q is set twice in this entry (first on line %d); remove one", p.key, first.line)
			}
			continue
		}
		seen[p.key] = p.keyPos
		if !slices.Contains(entryKeys, p.key) {
			if !p.merged {
				unknown = append(unknown, p)
			}
			continue
		}
		v := ep.t.resolve(p.value)
		f := field{keyAt: p.keyPos, at: posOf(p.value), node: v}
		if isNull(v) {
			f.at = p.keyPos
		}
		ep.fields[p.key] = f
	}
	for _, p := range unknown {
		ep.r.warnf(p.keyPos, "%s", unknownKeyMessage(p.key, ep.describe))
	}
}

func isNull(n ast.Node) bool {
	_, null := n.(*ast.NullNode)
	return n == nil || null
}

// describe says what the entry's key is set to, for unknownKeyMessage.
func (ep *entryParser) describe(key string) string {
	if f, ok := ep.fields[key]; ok && !isNull(f.node) {
		s, isScalar := scalarText(f.node)
		switch {
		case !isScalar:
			return fmt.Sprintf("the value on line %d", f.at.line)
		case s != "":
			return fmt.Sprintf("%q (line %d)", s, f.at.line)
		}
	}
	switch key {
	case keyBuildContext:
		return `"./", the default`
	case keyGitBranch:
		return `"master", the default`
	case keyDesiredTag:
		return `"latest", the default`
	case keyDependsOn:
		return "empty, the default"
	case keyNotifySuccess:
		return "false, the default"
	}
	return "not set"
}

// decode checks every field and fills in the project.
func (ep *entryParser) decode() {
	ep.id()
	ep.names()
	ep.gitURL()
	ep.gitBranch()
	ep.paths()
	ep.prebuild()
	ep.dependsOn()
	ep.notifyEmail()
	ep.notifySuccess()
	ep.schedule()
}

// str reads key as a string. ok is false when the key is missing, null,
// empty or not a scalar (an error then).
func (ep *entryParser) str(key string) (s string, at pos, ok bool) {
	f, present := ep.fields[key]
	if !present || isNull(f.node) {
		return "", f.at, false
	}
	if s, ok := scalarText(f.node); ok {
		return s, f.at, s != ""
	}
	if b, isBool := f.node.(*ast.BoolNode); isBool {
		text := b.GetToken().Value
		ep.errorf(f.at, "%s must be a string, got the boolean %s; quote it (%q) if you mean the text", key, text, text)
	} else {
		ep.errorf(f.at, "%s must be a string, got %s", key, kindOf(f.node))
	}
	return "", f.at, false
}

// required reads a required string key, reporting it when it is missing.
func (ep *entryParser) required(key string) (string, pos, bool) {
	s, at, ok := ep.str(key)
	return ep.requiredStr(key, s, at, ok)
}

// requiredStr reports a missing required key after str has read it.
func (ep *entryParser) requiredStr(key, s string, at pos, ok bool) (string, pos, bool) {
	if ok {
		return s, at, true
	}
	f, present := ep.fields[key]
	switch {
	case !present:
		ep.errorf(ep.e.at, "missing required key %q; %s", key, ep.hint(key))
	case !isBadType(f.node):
		ep.errorf(f.keyAt, "%s is empty; %s", key, ep.hint(key))
	}
	return "", at, false
}

func isBadType(n ast.Node) bool {
	_, ok := scalarText(n)
	return !ok && !isNull(n)
}

func (ep *entryParser) hint(key string) string {
	if key == keyAppID {
		if ep.ctx.app == "" {
			return `add "app-id: <namespace>"`
		}
		return fmt.Sprintf("add %q, the file's name", "app-id: "+ep.ctx.app)
	}
	return requiredHints[key]
}

var intText = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

// id reads the entry's id: an integer.
func (ep *entryParser) id() {
	f, present := ep.fields[keyID]
	if !present || isNull(f.node) {
		ep.required(keyID)
		return
	}
	ep.e.idAt, ep.e.hasID = f.at, true
	switch v := f.node.(type) {
	case *ast.IntegerNode:
		if n, ok := toInt(v.Value); ok {
			ep.e.p.ID = n
			return
		}
		ep.errorf(f.at, "id %s is too large", v.GetToken().Value)
	case *ast.StringNode:
		quoted := v.Token != nil && (v.Token.Type == token.DoubleQuoteType || v.Token.Type == token.SingleQuoteType)
		switch {
		case quoted && intText.MatchString(v.Value):
			ep.errorf(f.at, "id must be an integer, got the string %q; remove the quotes", v.Value)
		case intText.MatchString(v.Value):
			ep.errorf(f.at, "id %s is too large", v.Value)
		default:
			ep.errorf(f.at, "id must be an integer, got the string %q", v.Value)
		}
	default:
		got := kindOf(v)
		if text, ok := scalarText(v); ok {
			got += " " + text
		}
		ep.errorf(f.at, "id must be an integer, got %s", got)
	}
	ep.e.hasID = false
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int64:
		return int(x), x >= math.MinInt && x <= math.MaxInt
	case uint64:
		return int(x), x <= math.MaxInt
	}
	return 0, false
}

// names reads app-id, job-id and desired-tag, which name the image.
func (ep *entryParser) names() {
	app, appOK := ep.name(keyAppID, "namespace")
	if appOK && ep.ctx.app != "" && app != ep.ctx.app && !ep.firstDot(app) {
		ep.errorf(ep.fields[keyAppID].at, "app-id %q does not match the file name: entries in %s must have %q (or move this entry to %s.yaml)",
			app, ep.ctx.base, "app-id: "+ep.ctx.app, app)
	}
	job, jobOK := ep.name(keyJobID, "image name")
	tag, tagOK := ep.tag()
	ep.e.p.AppID, ep.e.p.JobID, ep.e.p.Tag = app, job, tag
	ep.e.keyOK = appOK && jobOK && tagOK
}

// firstDot reports whether app is the file's name up to its first dot, the
// name upstream's CI compared app-id with (status-api.yml.yml held
// status-api in 2017).
func (ep *entryParser) firstDot(app string) bool {
	before, _, _ := strings.Cut(ep.ctx.base, ".")
	return app == before
}

func (ep *entryParser) name(key, what string) (string, bool) {
	s, at, ok := ep.required(key)
	if !ok {
		return "", false
	}
	if !pipeline.ValidName(s) {
		ep.errorf(at, "%s %q is not a valid %s; %s", key, s, what, nameRule)
		return "", false
	}
	return s, true
}

// tag reads desired-tag; empty or null is "latest".
func (ep *entryParser) tag() (string, bool) {
	s, at, ok := ep.str(keyDesiredTag)
	if !ok {
		return pipeline.DefaultTag, !isBadType(ep.fields[keyDesiredTag].node)
	}
	if !pipeline.ValidTag(s) {
		ep.errorf(at, "desired-tag %q is not a valid tag: %s, which Docker and registries refuse in a tag, so this entry is not built; %s",
			s, tagWhy(s), tagRule)
		return "", false
	}
	return s, true
}

// tagWhy says what Docker refuses in s, which is not a valid tag.
func tagWhy(s string) string {
	switch {
	case len(s) > 128:
		return fmt.Sprintf("it has %d characters, more than 128", len(s))
	case strings.HasPrefix(s, ".") || strings.HasPrefix(s, "-"):
		return fmt.Sprintf("it starts with %q", s[:1])
	}
	for _, r := range s {
		if !strings.ContainsRune(tagChars, r) {
			return fmt.Sprintf("it contains %q", string(r))
		}
	}
	return "it is empty"
}

// tagChars are the characters of a tag.
const tagChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

// gitURL reads git-url, making a relative local path absolute.
func (ep *entryParser) gitURL() {
	s, at, ok := ep.required(keyGitURL)
	if !ok {
		return
	}
	if strings.HasPrefix(s, "-") {
		ep.errorf(at, "git-url %q must not start with \"-\" (git would read it as an option)", s)
		return
	}
	ep.e.p.GitURL = resolveGitURL(s, ep.ctx.dir)
}

// gitBranch reads git-branch; empty or null is "master".
func (ep *entryParser) gitBranch() {
	s, at, ok := ep.str(keyGitBranch)
	switch {
	case !ok:
		s = "master"
	case strings.HasPrefix(s, "-"):
		ep.errorf(at, "git-branch %q must not start with \"-\" (git would read it as an option)", s)
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		ep.errorf(at, "git-branch %q is not a valid branch, tag or commit: it contains spaces or control characters", s)
	}
	ep.e.p.GitBranch = s
}

// notifyEmail reads notify-email, which upstream requires; we only warn.
func (ep *entryParser) notifyEmail() {
	s, at, ok := ep.str(keyNotifyEmail)
	switch {
	case ok && !strings.Contains(s, "@"):
		ep.r.warnf(at, "notify-email %q does not look like an email address", s)
	case !ok && !isBadType(ep.fields[keyNotifyEmail].node):
		if f, present := ep.fields[keyNotifyEmail]; present {
			at = f.keyAt
		} else {
			at = ep.e.at
		}
		ep.r.warnf(at, "no notify-email: nobody will be told when this image fails to build")
	}
	ep.e.p.NotifyEmail = s
}
