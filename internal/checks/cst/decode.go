package cst

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// decoder reads typed values, recording problems with file:line:col.
type decoder struct {
	file     string
	problems *[]string
}

func (d *decoder) problem(at Pos, format string, args ...any) {
	*d.problems = append(*d.problems, fmt.Sprintf("%s:%s: %s", d.file, at, fmt.Sprintf(format, args...)))
}

// str reads a string field: any scalar, as written; null is "".
func (d *decoder) str(e *entry) string {
	switch e.val.kind {
	case kScalar:
		return e.val.text
	case kNull:
		return ""
	}
	d.problem(e.val.pos, "%s must be a string, got %s", e.name, e.val.describe())
	return ""
}

// strList reads a list of strings; null is nil.
func (d *decoder) strList(e *entry) []string {
	switch e.val.kind {
	case kNull:
		return nil
	case kSeq:
	default:
		d.problem(e.val.pos, "%s must be a list of strings, like [\"a\", \"b\"], got %s", e.name, e.val.describe())
		return nil
	}
	out := []string{}
	for _, it := range e.val.items {
		switch it.kind {
		case kScalar:
			out = append(out, it.text)
		case kNull:
			out = append(out, "")
		default:
			d.problem(it.pos, "each item of %s must be a string, got %s", e.name, it.describe())
		}
	}
	return out
}

// commands reads setup or teardown: a list of commands, each a list of strings.
func (d *decoder) commands(e *entry) [][]string {
	switch e.val.kind {
	case kNull:
		return nil
	case kSeq:
	default:
		d.problem(e.val.pos, "%s must be a list of commands, each a list of strings: [[\"touch\", \"/x\"]], got %s", e.name, e.val.describe())
		return nil
	}
	var out [][]string
	for i, it := range e.val.items {
		cmd := d.strList(&entry{name: fmt.Sprintf("%s[%d]", e.name, i), pos: it.pos, val: it})
		if len(cmd) == 0 && (it.kind == kSeq || it.kind == kNull) {
			d.problem(it.pos, "%s[%d] is an empty command; remove it", e.name, i)
		}
		out = append(out, cmd)
	}
	return out
}

// integer reads an int field (a whole float too, as upstream's YAML does).
func (d *decoder) integer(e *entry) (int, bool) {
	if e.val.kind == kScalar {
		switch e.val.typ {
		case "int":
			s := strings.ReplaceAll(e.val.text, "_", "")
			if n, err := strconv.ParseInt(s, 0, 64); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
				return int(n), true
			}
		case "float":
			if x, err := strconv.ParseFloat(e.val.text, 64); err == nil && x == math.Trunc(x) && math.Abs(x) <= math.MaxInt32 {
				return int(x), true
			}
		}
	}
	if e.val.kind == kNull {
		return 0, false
	}
	d.problem(e.val.pos, "%s must be an integer, got %s", e.name, e.val.describe())
	return 0, false
}

// boolean reads a bool field; like upstream's YAML 1.1 it takes yes/no and
// on/off too.
func (d *decoder) boolean(e *entry) (bool, bool) {
	if e.val.kind == kScalar {
		switch e.val.text {
		case "true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON":
			return true, true
		case "false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF":
			return false, true
		}
	}
	if e.val.kind == kNull {
		return false, false
	}
	d.problem(e.val.pos, "%s must be true or false, got %s %q", e.name, e.val.describe(), e.val.text)
	return false, false
}

// patterns reads a list of regular expressions.
func (d *decoder) patterns(e *entry) []Pattern {
	var out []Pattern
	items := e.val.items
	for i, s := range d.strList(e) {
		at := e.val.pos
		if i < len(items) {
			at = items[i].pos
		}
		re, err := regexp.Compile(s)
		if err != nil {
			d.problem(at, "%s: %q is not a valid regular expression (Go RE2 syntax): %v", e.name, s, err)
			continue
		}
		out = append(out, Pattern{Expr: s, Pos: at, re: re})
	}
	return out
}

// envVars reads a list of {key, value, isRegex}; with needValue, key and
// value must not be empty (upstream's rule for a command test's envVars).
func (d *decoder) envVars(e entry, needValue bool) []EnvVar {
	if e.val.kind == kNull {
		return nil
	}
	if e.val.kind != kSeq {
		d.problem(e.val.pos, "%s must be a list of {key: NAME, value: VALUE}, got %s", e.name, e.val.describe())
		return nil
	}
	var out []EnvVar
	for _, it := range e.val.items {
		if it.kind != kMap {
			d.problem(it.pos, "each item of %s must be a mapping {key: NAME, value: VALUE}, got %s", e.name, it.describe())
			continue
		}
		v := EnvVar{Pos: it.pos}
		for _, k := range it.keys {
			switch k.name {
			case "key":
				v.Key = d.str(&k)
			case "value":
				v.Value = d.str(&k)
			case "isRegex":
				v.IsRegex, _ = d.boolean(&k)
			default:
				*d.problems = append(*d.problems, unknownField(d.file, k, "an item of "+e.name, envFields))
			}
		}
		switch {
		case v.Key == "":
			d.problem(it.pos, "an item of %s has no key; give each one a key", e.name)
		case needValue && v.Value == "":
			d.problem(it.pos, "%s %s has an empty value; upstream requires non-empty keys and values", e.name, v.Key)
		}
		if v.IsRegex {
			if _, err := regexp.Compile(v.Value); err != nil {
				d.problem(it.pos, "%s %s: %q is not a valid regular expression (Go RE2 syntax): %v", e.name, v.Key, v.Value, err)
			}
		}
		out = append(out, v)
	}
	return out
}

// nonEmpty reads a list of strings none of which may be empty.
func (d *decoder) nonEmpty(e *entry, what string) []string {
	l := d.strList(e)
	for _, s := range l {
		if s == "" {
			d.problem(e.val.pos, "%s has an empty %s; remove it", e.name, what)
			break
		}
	}
	return l
}

// unset reports whether n is null, false, "" or an empty list.
func unset(n *node) bool {
	switch n.kind {
	case kNull:
		return true
	case kSeq:
		return len(n.items) == 0
	case kScalar:
		return n.text == "" || (n.typ == "bool" && strings.EqualFold(n.text, "false"))
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
