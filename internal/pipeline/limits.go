package pipeline

import (
	"fmt"
	"strings"
)

// Limits bound a YAML or JSON file a user gives Hoist (an index file,
// cccp.yml, a container-structure-test file, a compose test file, an API
// body), so that a hostile one is refused before a parser builds it in
// memory: YAML parsers take about a kilobyte per value, and more per level
// of nesting. A zero field means its default (DefaultLimits).
type Limits struct {
	MaxBytes   int64 // the file's size
	MaxDepth   int   // levels of lists and mappings, nested
	MaxNodes   int   // keys, items and values, before aliases are expanded
	MaxAliases int   // uses of an anchor (*name)
	MaxNumber  int   // characters of an unquoted value that starts like a number
}

// The default limits: a real index file (the largest of CentOS's has
// 34 kB, about 3,000 values, nested 4 deep) is far below each, and
// hoist index validate of the worst file within them peaks near 70 MB.
const (
	DefaultMaxBytes   = 1 << 20
	DefaultMaxDepth   = 64
	DefaultMaxNodes   = 20_000
	DefaultMaxAliases = 1_000
	DefaultMaxNumber  = 100
)

// DefaultLimits returns the limits for a file read from a user.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxDepth: DefaultMaxDepth, MaxNodes: DefaultMaxNodes,
		MaxAliases: DefaultMaxAliases, MaxNumber: DefaultMaxNumber}
}

// orDefault fills the zero fields of l.
func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = d.MaxNodes
	}
	if l.MaxAliases <= 0 {
		l.MaxAliases = d.MaxAliases
	}
	if l.MaxNumber <= 0 {
		l.MaxNumber = d.MaxNumber
	}
	return l
}

// LimitError is a file over one of its Limits.
type LimitError struct {
	File      string
	Line, Col int    // 1-based; 0 when it is about the whole file
	Limit     string // "size", "depth", "nodes", "aliases" or "number"
	Max       int64  // the limit
	Message   string // what is wrong and how to fix it, without the place
}

// Error is "file:line:col: message", or "file: message" for the whole file.
func (e *LimitError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Message)
}

// SizeError is the LimitError of a file of size bytes over max.
func SizeError(name string, size, max int64) *LimitError {
	return &LimitError{File: name, Limit: "size", Max: max,
		Message: fmt.Sprintf("the file is %d bytes, over the limit of %s; make it smaller", size, bytesText(max))}
}

// bytesText is n in bytes, with MiB or KiB when it is a whole number of them.
func bytesText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d bytes (%d MiB)", n, n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d bytes (%d KiB)", n, n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// CheckYAMLLimits checks data, the YAML file name, against lim before a
// parser reads it: its size, how deep lists and mappings nest (block and
// flow), how many values and aliases it holds, and how long an unquoted
// number is. It is a lexical pass that counts generously (a file near a
// limit may be counted a little over it) and never looks further than
// data. The error is a *LimitError.
func CheckYAMLLimits(name string, data []byte, lim Limits) error {
	lim = lim.orDefault()
	if int64(len(data)) > lim.MaxBytes {
		return SizeError(name, int64(len(data)), lim.MaxBytes)
	}
	s := &yamlScan{name: name, data: data, lim: lim, line: 1}
	return s.run()
}

// yamlScan is the state of CheckYAMLLimits.
type yamlScan struct {
	name      string
	data      []byte
	lim       Limits
	i         int // next byte
	line      int
	lineStart int   // offset of the current line
	indents   []int // columns of the open block collections
	flow      int   // open [ and {
	plainOpen bool  // the last token was a plain scalar, which the next line may continue
	// pend is 'p' when the last token was a node property, which the next
	// line may be the value of; 0 when not.
	pend    byte
	nodes   int
	aliases int
}

func (s *yamlScan) fail(at int, limit string, max int64, format string, args ...any) error {
	col := 1
	for _, c := range s.data[s.lineStart:min(at, len(s.data))] {
		if c&0xC0 != 0x80 { // count characters, not UTF-8 continuation bytes
			col++
		}
	}
	return &LimitError{File: s.name, Line: s.line, Col: col, Limit: limit, Max: max,
		Message: fmt.Sprintf(format, args...)}
}

// run scans the file line by line.
func (s *yamlScan) run() error {
	for s.i < len(s.data) {
		if err := s.scanLine(); err != nil {
			return err
		}
	}
	return nil
}

// lineBreak reports whether a line break (\n or \r\n) starts at i. A lone
// \r is not one, for goccy: it is read as a space.
func (s *yamlScan) lineBreak(i int) bool {
	return i < len(s.data) && (s.data[i] == '\n' || (s.data[i] == '\r' && i+1 < len(s.data) && s.data[i+1] == '\n'))
}

// newline moves past the line break at s.i (\n or \r\n).
func (s *yamlScan) newline() {
	if s.data[s.i] == '\r' && s.i+1 < len(s.data) && s.data[s.i+1] == '\n' {
		s.i++
	}
	s.i++
	s.line++
	s.lineStart = s.i
}

// scanLine reads one line of block context (or, inside [ and {, one line
// of a flow collection).
func (s *yamlScan) scanLine() error {
	start := s.i
	for s.i < len(s.data) && s.data[s.i] == ' ' {
		s.i++
	}
	ind := s.i - start
	if s.i >= len(s.data) {
		return nil
	}
	switch c := s.data[s.i]; {
	case s.lineBreak(s.i):
		s.newline()
		return nil
	case c == '#':
		s.plainOpen = false
		s.skipToEOL()
		return nil
	case s.flow == 0 && ind == 0 && (s.hasPrefix("---") || s.hasPrefix("...") || c == '%'):
		s.plainOpen, s.pend = false, 0
		s.indents = s.indents[:0]
		if c == '%' || s.hasPrefix("...") {
			s.skipToEOL()
			return nil
		}
		s.i += 3
	}
	if s.flow == 0 {
		if !s.nests() {
			s.closeTo(ind)
		}
		if err := s.open(ind); err != nil {
			return err
		}
	}
	// A line that may continue a plain scalar starts inside it: a quote or
	// a "|" there is text, not the start of a scalar that could hide the
	// rest of the file from the count.
	cont := s.plainOpen
	s.plainOpen, s.pend = false, 0
	return s.scanRest(!cont)
}

// nests reports whether the line that starts at s.i is the value of what
// the line before left open, whatever its indentation: goccy reads a line
// after a node property (a tag or an anchor) at the end of a line so.
func (s *yamlScan) nests() bool {
	return s.pend == 'p'
}

// closeTo closes the collections a line indented ind ends: those right of
// it, and the one at its column, which the line continues. It stops there
// even if collections further out sit right of it (a line nested by
// nests), as goccy does.
func (s *yamlScan) closeTo(ind int) {
	for n := len(s.indents); n > 0 && s.indents[n-1] > ind; n = len(s.indents) {
		s.indents = s.indents[:n-1]
	}
	if n := len(s.indents); n > 0 && s.indents[n-1] == ind {
		s.indents = s.indents[:n-1]
	}
}

// open pushes a block collection at column col.
func (s *yamlScan) open(col int) error {
	s.indents = append(s.indents, col)
	return s.checkDepth()
}

func (s *yamlScan) checkDepth() error {
	if d := len(s.indents) + s.flow; d > s.lim.MaxDepth {
		return s.fail(s.i, "depth", int64(s.lim.MaxDepth),
			"lists and mappings nest more than %d levels deep here, over the limit of %d; flatten the file", s.lim.MaxDepth, s.lim.MaxDepth)
	}
	return nil
}

func (s *yamlScan) node() error {
	s.nodes++
	if s.nodes > s.lim.MaxNodes {
		return s.fail(s.i, "nodes", int64(s.lim.MaxNodes),
			"the file holds more than %d keys, items and values, over the limit of %d; split it or make it smaller", s.lim.MaxNodes, s.lim.MaxNodes)
	}
	return nil
}

func (s *yamlScan) hasPrefix(p string) bool {
	return strings.HasPrefix(string(s.data[s.i:min(s.i+len(p), len(s.data))]), p)
}

// skipToEOL moves to the next line.
func (s *yamlScan) skipToEOL() {
	for s.i < len(s.data) && s.data[s.i] != '\n' {
		s.i++
	}
	if s.i < len(s.data) {
		s.newline()
	}
}

// blank reports whether the byte at i ends a token: a space, a line break,
// or the end of the data.
func (s *yamlScan) blank(i int) bool {
	return i >= len(s.data) || s.data[i] == ' ' || s.data[i] == '\t' || s.data[i] == '\n' || s.data[i] == '\r'
}

// scanRest reads the rest of a line from s.i; atStart: a node may start
// there.
func (s *yamlScan) scanRest(atStart bool) error {
	for s.i < len(s.data) {
		c := s.data[s.i]
		if s.lineBreak(s.i) {
			s.newline()
			return nil
		}
		if c == ' ' || c == '\t' || c == '\r' {
			s.i++
			continue
		}
		s.plainOpen = false
		if c == '#' && (s.i == s.lineStart || s.blank(s.i-1)) {
			s.skipToEOL() // what the line left open stays open
			return nil
		}
		s.pend = 0
		switch {
		case s.flow == 0 && (c == '-' || c == '?' || c == ':') && s.blank(s.i+1):
			// "- " and "? " open a nested block collection on this line.
			if err := s.node(); err != nil {
				return err
			}
			s.i++
			if c != ':' {
				for s.i < len(s.data) && s.data[s.i] == ' ' {
					s.i++
				}
				if err := s.open(s.i - s.lineStart); err != nil {
					return err
				}
			}
			atStart = true
			continue
		case s.flow > 0 && (c == ',' || c == ':'):
			s.i++
			atStart = true
			continue
		case c == '[' || c == '{':
			s.flow++
			if err := s.checkDepth(); err != nil {
				return err
			}
			if err := s.node(); err != nil {
				return err
			}
			s.i++
			atStart = true
			continue
		case (c == ']' || c == '}') && s.flow > 0:
			s.flow--
			s.i++
			atStart = false
			continue
		case atStart && (c == '|' || c == '>') && s.flow == 0:
			return s.blockScalar()
		}
		before := s.i
		if err := s.value(atStart); err != nil {
			return err
		}
		if s.i == before {
			s.i++
		}
		// After an anchor or a tag, the node itself starts.
		atStart = atStart && (c == '&' || c == '!')
	}
	return nil
}

// value reads a scalar, alias, anchor or tag at s.i.
func (s *yamlScan) value(atStart bool) error {
	c := s.data[s.i]
	switch {
	case atStart && (c == '&' || c == '!'):
		s.skipWord()
		s.pend = 'p'
		return nil
	case atStart && c == '*':
		s.aliases++
		if s.aliases > s.lim.MaxAliases {
			return s.fail(s.i, "aliases", int64(s.lim.MaxAliases),
				"the file uses aliases (*name) more than %d times, over the limit of %d", s.lim.MaxAliases, s.lim.MaxAliases)
		}
		s.skipWord()
		return s.node()
	case atStart && (c == '"' || c == '\''):
		if err := s.node(); err != nil {
			return err
		}
		s.quoted(c)
		return nil
	}
	start := s.i
	s.plain()
	s.plainOpen = true
	// Counted even where it may continue a scalar: goccy may read it as a
	// key of its own.
	if err := s.node(); err != nil {
		return err
	}
	if atStart {
		if n := s.i - start; looksNumeric(s.data[start:s.i]) && n > s.lim.MaxNumber {
			return s.fail(start, "number", int64(s.lim.MaxNumber),
				"a number of %d characters, over the limit of %d; write a shorter one (quote the value if it is text)", n, s.lim.MaxNumber)
		}
	}
	return nil
}

// looksNumeric reports whether a plain scalar starts like a number or a
// duration: a digit, or a sign or point followed by one.
func looksNumeric(b []byte) bool {
	b = []byte(strings.TrimLeft(string(b[:min(len(b), 3)]), "+-."))
	return len(b) > 0 && b[0] >= '0' && b[0] <= '9'
}

// skipWord moves past an anchor, alias or tag name.
func (s *yamlScan) skipWord() {
	for s.i < len(s.data) && !s.blank(s.i) && (s.flow == 0 || !strings.ContainsRune(",[]{}", rune(s.data[s.i]))) {
		s.i++
	}
}

// plain moves to the end of a plain scalar (or of the rest of one) on this
// line: before ": ", " #", a line break, and in flow context ,[]{}.
func (s *yamlScan) plain() {
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case s.lineBreak(s.i):
			return
		case c == ':' && (s.blank(s.i+1) || (s.flow > 0 && s.i+1 < len(s.data) && strings.ContainsRune(",[]{}", rune(s.data[s.i+1])))):
			return
		case c == '#' && s.i > 0 && (s.data[s.i-1] == ' ' || s.data[s.i-1] == '\t'):
			return
		case s.flow > 0 && strings.ContainsRune(",[]{}", rune(c)):
			return
		}
		s.i++
	}
}

// quoted moves past a quoted scalar, which may span lines.
func (s *yamlScan) quoted(q byte) {
	s.i++
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '\n':
			s.newline()
			continue
		case q == '"' && c == '\\':
			s.i += 2
			continue
		case c == q && q == '\'' && s.i+1 < len(s.data) && s.data[s.i+1] == '\'':
			s.i += 2
			continue
		case c == q:
			s.i++
			return
		}
		s.i++
	}
}

// blockScalar skips a literal (|) or folded (>) scalar: its header line,
// then every blank line and every line indented more than the innermost
// open collection.
func (s *yamlScan) blockScalar() error {
	if err := s.node(); err != nil {
		return err
	}
	ind := 0
	if n := len(s.indents); n > 0 {
		ind = s.indents[n-1]
	}
	s.skipToEOL()
	for s.i < len(s.data) {
		j := s.i
		for j < len(s.data) && s.data[j] == ' ' {
			j++
		}
		if j < len(s.data) && !s.lineBreak(j) && j-s.i <= ind {
			return nil
		}
		s.i = j
		s.skipToEOL()
	}
	return nil
}
