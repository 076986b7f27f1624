package index

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/hoistci/hoist/internal/pipeline"
)

// knownChecks are the ids a cccp.yml "checks:" mapping may name: the
// predefined checks, then the groups of results.
var knownChecks = []string{
	"starts", "config", "ports", "no-hard-coded-passwords", "override-cmd", "secrets", "size",
	pipeline.GroupLint, pipeline.GroupTestScript, pipeline.GroupStructureTest, pipeline.GroupAutotest,
}

// checkGroups are the ids that take a finer name after a "/":
// lint/<Rule>, structure-test/<file>/<test>.
var checkGroups = []string{pipeline.GroupLint, pipeline.GroupStructureTest}

// policies are the values a check may be given.
var policies = []pipeline.CheckPolicy{pipeline.PolicyBlocking, pipeline.PolicyAdvisory, pipeline.PolicyExclude}

// readChecks reads the "checks:" mapping: check id, rule or group →
// blocking, advisory or exclude. null is no policy.
func readChecks(t *tree, r *reporter, v ast.Node, at pos) pipeline.Policies {
	if isNull(v) {
		return nil
	}
	ps, ok := t.pairs(v, 0)
	if !ok {
		r.errorf(at, "checks must be a mapping of check ids to %s (e.g. \"lint: blocking\"), got %s", policyList(), kindOf(v))
		return nil
	}
	out := pipeline.Policies{}
	seen := map[string]pos{}
	for _, p := range ps {
		if prev, dup := seen[p.key]; dup {
			if !p.merged {
				r.errorf(p.keyPos, "check %q is set twice (first on line %d); remove one", p.key, prev.line)
			}
			continue
		}
		seen[p.key] = p.keyPos
		if !checkIDOK(r, p.key, p.keyPos) {
			continue
		}
		if pol, ok := readPolicy(r, p.key, t.resolve(p.value), posOf(p.value)); ok {
			out[p.key] = pol
		}
	}
	return out
}

// checkIDOK reports whether id names a check, a group or, under lint or
// structure-test, a finer name; it reports the error when not.
func checkIDOK(r *reporter, id string, at pos) bool {
	group, rest, fine := strings.Cut(id, "/")
	switch {
	case !fine && slices.Contains(knownChecks, id):
		return true
	case fine && slices.Contains(checkGroups, group) && strings.Trim(rest, "/ ") != "":
		return true
	case fine && slices.Contains(checkGroups, group):
		example := "lint/JSONArgsRecommended"
		if group == pipeline.GroupStructureTest {
			example = "structure-test/tests/image.cst.yaml/<test name>"
		}
		r.errorf(at, "check %q names nothing after %q; write a finer name, e.g. %s", id, group+"/", example)
		return false
	case fine:
		msg := fmt.Sprintf("unknown check %q: only %s take a finer name after \"/\"", id, strings.Join(checkGroups, " and "))
		if s := suggest(group, checkGroups); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s+"/"+rest)
		}
		r.errorf(at, "%s", msg)
		return false
	}
	if s := suggest(id, knownChecks); s != "" {
		r.errorf(at, "unknown check %q; did you mean %q?", id, s)
	} else {
		r.errorf(at, "unknown check %q; the checks are %s, or lint/<rule> and structure-test/<file>/<test>", id, strings.Join(knownChecks, ", "))
	}
	return false
}

// readPolicy reads a check's policy.
func readPolicy(r *reporter, id string, v ast.Node, at pos) (pipeline.CheckPolicy, bool) {
	s, ok := scalarText(v)
	if !ok {
		r.errorf(at, "check %q must be %s, got %s", id, policyList(), kindOf(v))
		return "", false
	}
	for _, p := range policies {
		if strings.EqualFold(s, string(p)) {
			return p, true
		}
	}
	r.errorf(at, "check %q: unknown policy %q; use %s", id, s, policyList())
	return "", false
}

func policyList() string {
	return fmt.Sprintf("%s, %s or %s", policies[0], policies[1], policies[2])
}

// sizeUnits are the units size-budget accepts, in bytes, by lower-case
// spelling.
var sizeUnits = map[string]int64{
	"b": 1, "kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

var sizeRE = regexp.MustCompile(`^([+-]?[0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$`)

const sizeHint = "write bytes or a number with a unit: 300MB, 1.5GiB (B, kB, MB, GB count in 1000s; KiB, MiB, GiB in 1024s)"

// maxSizeText bounds the text of a size, so that a huge number is refused
// before big.Rat reads it (50 MB of digits took hours).
const maxSizeText = 32

// readSize reads size-budget: a whole number of bytes, or a number with a
// unit. null is 0, the server's default.
func readSize(r *reporter, key string, v ast.Node, at pos) int64 {
	if isNull(v) {
		return 0
	}
	s, ok := scalarText(v)
	if !ok {
		r.errorf(at, "%s must be a size, got %s; %s", key, kindOf(v), sizeHint)
		return 0
	}
	if len(s) > maxSizeText {
		r.errorf(at, "%s is %d characters long, over the limit of %d for a size; %s", key, len(s), maxSizeText, sizeHint)
		return 0
	}
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		r.errorf(at, "%s %q is not a size; %s", key, s, sizeHint)
		return 0
	}
	unit := int64(1)
	if m[2] != "" {
		u, ok := sizeUnits[strings.ToLower(m[2])]
		if !ok {
			r.errorf(at, "%s %q has an unknown unit %q; %s", key, s, m[2], sizeHint)
			return 0
		}
		unit = u
	}
	n, ok := new(big.Rat).SetString(m[1])
	if !ok {
		r.errorf(at, "%s %q is not a size; %s", key, s, sizeHint)
		return 0
	}
	n.Mul(n, new(big.Rat).SetInt64(unit))
	switch {
	case n.Sign() <= 0:
		r.errorf(at, "%s %q must be more than 0 bytes; to skip the size check write \"checks: {size: exclude}\"", key, s)
		return 0
	case !n.IsInt() && m[2] == "":
		r.errorf(at, "%s %q is not a whole number of bytes; %s", key, s, sizeHint)
		return 0
	}
	b := new(big.Int).Quo(n.Num(), n.Denom()) // whole bytes, rounded down
	if !b.IsInt64() {
		r.errorf(at, "%s %q is too large", key, s)
		return 0
	}
	return b.Int64()
}

// readPaths reads structure-tests: a path or a list of paths, each a file
// inside the folder of cccp.yml. An empty list is no files (not the
// default, every *.cst.yaml); null is the default.
func readPaths(t *tree, r *reporter, key string, v ast.Node, at pos) []string {
	if isNull(v) {
		return nil
	}
	if _, ok := scalarText(v); ok {
		if p := relFile(r, key, repoString(r, key, v, at), at); p != "" {
			return []string{p}
		}
		return nil
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		r.errorf(at, "%s must be a path or a list of paths, got %s", key, kindOf(v))
		return nil
	}
	out := []string{}
	seen := map[string]pos{}
	for _, x := range seq.Values {
		xv, xat := t.resolve(x), posOf(x)
		s, ok := scalarText(xv)
		if !ok {
			r.errorf(xat, "%s entries must be paths, got %s", key, kindOf(xv))
			continue
		}
		p := relFile(r, key, s, xat)
		if p == "" {
			if s == "" {
				r.errorf(xat, "%s has an empty entry; remove it", key)
			}
			continue
		}
		if prev, dup := seen[p]; dup {
			r.errorf(xat, "%s lists %q twice (first on line %d); remove one", key, p, prev.line)
			continue
		}
		seen[p] = xat
		out = append(out, p)
	}
	return out
}
