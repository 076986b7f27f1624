package engine

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// ignorePattern is one line of a .dockerignore file.
type ignorePattern struct {
	re        *regexp.Regexp
	exception bool // the line started with "!"
}

// ignoreMatcher decides which context paths a .dockerignore excludes, with
// the docker CLI's rules: patterns are matched in order against the path
// and each of its parent directories, the last match wins, "!" re-includes,
// "*" and "?" do not cross "/", and "**" matches any number of directories.
type ignoreMatcher struct {
	patterns   []ignorePattern
	exceptions bool
}

// parseIgnore reads .dockerignore lines from r.
func parseIgnore(r io.Reader) (*ignoreMatcher, error) {
	m := &ignoreMatcher{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if strings.HasPrefix(text, "#") {
			continue
		}
		p, ok, err := compileIgnore(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf(".dockerignore:%d: %w", line, err)
		}
		if ok {
			m.patterns = append(m.patterns, p)
			m.exceptions = m.exceptions || p.exception
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	return m, nil
}

// compileIgnore turns one trimmed line into a pattern; ok is false for an
// empty line.
func compileIgnore(text string) (p ignorePattern, ok bool, err error) {
	if text == "" {
		return p, false, nil
	}
	if text[0] == '!' {
		p.exception = true
		text = strings.TrimSpace(text[1:])
		if text == "" {
			return p, false, fmt.Errorf(`illegal exclusion pattern "!"`)
		}
	}
	text = path.Clean(text)
	if len(text) > 1 && text[0] == '/' {
		text = text[1:]
	}
	if _, err := path.Match(text, "."); err != nil {
		return p, false, fmt.Errorf("pattern %q: %w", text, err)
	}
	p.re, err = regexp.Compile(ignoreRegexp(text))
	if err != nil {
		return p, false, fmt.Errorf("pattern %q: %w", text, err)
	}
	return p, true, nil
}

// ignoreRegexp translates a cleaned pattern into an anchored regexp.
func ignoreRegexp(pattern string) string {
	var b strings.Builder
	b.WriteString("^")
	rs := []rune(pattern)
	inClass := false
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\' && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case inClass:
			inClass = c != ']'
			if c == ']' || c == '^' || c == '-' {
				b.WriteRune(c)
			} else {
				b.WriteString(regexp.QuoteMeta(string(c)))
			}
		case c == '[':
			inClass = true
			b.WriteRune(c)
		case c == '*':
			i = starStar(&b, rs, i)
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return b.String()
}

// starStar writes the regexp for the "*" or "**" at rs[i] and returns the
// index of the last rune it consumed.
func starStar(b *strings.Builder, rs []rune, i int) int {
	if i+1 >= len(rs) || rs[i+1] != '*' {
		b.WriteString("[^/]*")
		return i
	}
	i++
	if i+1 < len(rs) && rs[i+1] == '/' {
		i++
	}
	if i+1 == len(rs) {
		b.WriteString(".*")
	} else {
		b.WriteString("(.*/)?")
	}
	return i
}

// excluded reports whether rel ("/"-separated, relative to the context) is
// left out of the build context.
func (m *ignoreMatcher) excluded(rel string) bool {
	if m == nil {
		return false
	}
	parents := strings.Split(path.Dir(rel), "/")
	matched := false
	for _, p := range m.patterns {
		if p.exception != matched {
			continue
		}
		hit := p.re.MatchString(rel)
		for i := 0; !hit && parents[0] != "." && i < len(parents); i++ {
			hit = p.re.MatchString(strings.Join(parents[:i+1], "/"))
		}
		if hit {
			matched = !p.exception
		}
	}
	return matched
}

// keep adds exceptions so that the named paths (the Dockerfile and the
// .dockerignore itself) are always sent, as the docker CLI does.
func (m *ignoreMatcher) keep(rels ...string) {
	for _, rel := range rels {
		if m.excluded(rel) {
			re := regexp.MustCompile("^" + regexp.QuoteMeta(rel) + "$")
			m.patterns = append(m.patterns, ignorePattern{re: re, exception: true})
			m.exceptions = true
		}
	}
}
