// Package dockerfile reads the base images of a Dockerfile: the image of
// every FROM line, in every stage, with ARG defaults declared before the
// first FROM substituted, line continuations joined, and stage names that
// refer to earlier stages left out. It does not build or validate anything
// else.
package dockerfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// FromFile returns the base images of the Dockerfile at path; see From.
func FromFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the target file: %w", err)
	}
	defer f.Close()
	return From(f)
}

// From returns the images the FROM lines of a Dockerfile build on, in order
// and without duplicates, as written after ARG substitution ("centos:7",
// "host:5000/ns/name:tag"). "scratch" and references to earlier stages
// ("FROM builder") are left out. A FROM whose image still holds an
// unresolved variable is left out too: it cannot name a known image.
func From(r io.Reader) ([]string, error) {
	lines, err := logicalLines(r)
	if err != nil {
		return nil, err
	}
	args := map[string]string{}
	stages := map[string]bool{}
	seen := map[string]bool{}
	var out []string
	sawFrom := false
	for _, l := range lines {
		word, rest, _ := strings.Cut(strings.TrimSpace(l.text), " ")
		if i := strings.IndexAny(word, "\t"); i >= 0 {
			word, rest = word[:i], word[i+1:]+" "+rest
		}
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "ARG":
			if sawFrom {
				continue // stage-scoped ARGs never reach a FROM
			}
			for _, f := range strings.Fields(rest) {
				name, def, ok := strings.Cut(f, "=")
				if ok {
					args[name] = expand(unquote(def), args)
				} else if _, known := args[name]; !known {
					args[name] = ""
				}
			}
		case "FROM":
			sawFrom = true
			image, stage, err := parseFrom(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", l.line, err)
			}
			image = expand(image, args)
			low := strings.ToLower(image)
			if image == "" || low == "scratch" || stages[low] || strings.Contains(image, "$") {
				if stage != "" {
					stages[strings.ToLower(stage)] = true
				}
				continue
			}
			if stage != "" {
				stages[strings.ToLower(stage)] = true
			}
			if !seen[image] {
				seen[image] = true
				out = append(out, image)
			}
		}
	}
	return out, nil
}

// parseFrom splits the arguments of FROM: flags, the image, "AS name".
func parseFrom(rest string) (image, stage string, err error) {
	var words []string
	for _, f := range strings.Fields(rest) {
		if len(words) == 0 && strings.HasPrefix(f, "--") {
			continue // --platform=… and other flags
		}
		words = append(words, f)
	}
	switch {
	case len(words) == 1:
		return words[0], "", nil
	case len(words) == 3 && strings.EqualFold(words[1], "as"):
		return words[0], words[2], nil
	case len(words) == 0:
		return "", "", fmt.Errorf("FROM names no image")
	}
	return "", "", fmt.Errorf("FROM %s: want FROM [--platform=…] IMAGE [AS NAME]", rest)
}

// expand substitutes $NAME, ${NAME}, ${NAME:-default} and ${NAME:+alt}
// from args; unknown variables are left as they are.
func expand(s string, args map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(expandBraced(s[i+2:i+end], s[i:i+end+1], args))
			i += end
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || isAlnum(s[j])) {
			j++
		}
		if j == i+1 {
			b.WriteByte(c)
			continue
		}
		if v, ok := args[s[i+1:j]]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i:j])
		}
		i = j - 1
	}
	return b.String()
}

func expandBraced(body, raw string, args map[string]string) string {
	name, word, op := body, "", ""
	if k := strings.Index(body, ":"); k >= 0 && k+1 < len(body) {
		name, op, word = body[:k], body[k+1:k+2], body[k+2:]
	}
	v, ok := args[name]
	switch op {
	case "-":
		if !ok || v == "" {
			return expand(word, args)
		}
		return v
	case "+":
		if ok && v != "" {
			return expand(word, args)
		}
		return ""
	case "":
		if ok {
			return v
		}
	}
	return raw
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// logical is one instruction, its continuation lines joined.
type logical struct {
	line int // where it starts, 1-based
	text string
}

// logicalLines joins continued lines and drops comments and blank lines,
// honouring an "# escape=`" parser directive.
func logicalLines(r io.Reader) ([]logical, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	escape := byte('\\')
	var out []logical
	var cur strings.Builder
	start, n := 0, 0
	directives := true
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(line)
		if directives {
			if d, ok := strings.CutPrefix(trimmed, "#"); ok {
				k, v, isDirective := strings.Cut(strings.TrimSpace(d), "=")
				if isDirective && strings.EqualFold(strings.TrimSpace(k), "escape") {
					if v = strings.TrimSpace(v); v == "`" {
						escape = '`'
					}
				}
				continue
			}
			directives = false
		}
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() > 0) {
			continue // comments and blank lines inside a continuation are dropped
		}
		if trimmed == "" {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if line[len(line)-1] == escape {
			cur.WriteString(line[:len(line)-1])
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		out = append(out, logical{line: start, text: cur.String()})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the target file: %w", err)
	}
	if cur.Len() > 0 {
		out = append(out, logical{line: start, text: cur.String()})
	}
	return out, nil
}

// Reader is a pipeline.FromReader.
type Reader struct{}

// FromImages returns the base images of the Dockerfile at path; see From.
func (Reader) FromImages(path string) ([]string, error) { return FromFile(path) }
