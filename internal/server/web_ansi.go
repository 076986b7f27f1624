package server

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ansiHTML turns a log with ANSI escape codes into HTML: SGR colours and
// styles become <span class="…"> (classes a-b, a-d, a-i, a-u, fg-N, bg-N
// with N from 0 to 15; other colours inline), every other escape sequence
// is dropped, and text is escaped. It streams: Write may end in the middle
// of an escape sequence or a UTF-8 character, which is kept for the next
// call, and each call's HTML closes its own spans, so chunks can be
// appended to a page one by one. The zero value is ready to use.
type ansiHTML struct {
	st      sgr
	pending []byte // an incomplete escape sequence or character
}

// sgr is the current graphic rendition.
type sgr struct {
	bold, dim, italic, underline bool
	fg, bg                       string // a class ("fg-1") or a style ("color:#…"); "" for default
}

// maxEscape bounds an escape sequence; longer ones are dropped as garbage.
const maxEscape = 64

// Write renders p, keeping an incomplete tail for the next call.
func (a *ansiHTML) Write(p []byte) string {
	data := append(a.pending, p...)
	a.pending = nil
	var out, run strings.Builder
	flush := func() {
		if run.Len() == 0 {
			return
		}
		text := html.EscapeString(strings.ToValidUTF8(run.String(), "\uFFFD"))
		if cls, style := a.st.attrs(); cls != "" || style != "" {
			out.WriteString("<span")
			if cls != "" {
				fmt.Fprintf(&out, ` class="%s"`, cls)
			}
			if style != "" {
				fmt.Fprintf(&out, ` style="%s"`, style)
			}
			out.WriteString(">" + text + "</span>")
		} else {
			out.WriteString(text)
		}
		run.Reset()
	}
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == 0x1b:
			n, params, final, complete := scanEscape(data[i:])
			if !complete && len(data)-i < maxEscape {
				a.pending = append(a.pending, data[i:]...)
				i = len(data)
				continue
			}
			if final == 'm' {
				flush()
				a.st.apply(params)
			}
			i += n
		case c == '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++ // \r\n is a line end
				continue
			}
			if i+1 == len(data) {
				a.pending = append(a.pending, c) // maybe \r\n split in two
				i++
				continue
			}
			run.WriteByte('\n') // a progress line rewritten in place: keep each
			i++
		case c == '\b' || (c < 0x20 && c != '\n' && c != '\t'):
			i++ // other control characters
		case c >= utf8.RuneSelf && !utf8.FullRune(data[i:]):
			a.pending = append(a.pending, data[i:]...)
			i = len(data)
		default:
			run.WriteByte(c)
			i++
		}
	}
	flush()
	return out.String()
}

// Close renders what is left at the end of the log.
func (a *ansiHTML) Close() string {
	rest := a.pending
	a.pending = nil
	if len(rest) == 0 || rest[0] == 0x1b {
		return ""
	}
	return html.EscapeString(strings.ToValidUTF8(strings.TrimSuffix(string(rest), "\r"), "\uFFFD"))
}

// renderANSI renders a whole log at once.
func renderANSI(s string) string {
	var a ansiHTML
	return a.Write([]byte(s)) + a.Close()
}

// scanEscape reads the escape sequence at the start of b (b[0] is ESC) and
// returns its length, a CSI sequence's parameters and final byte, and
// whether it is complete. OSC sequences end at BEL or ESC \.
func scanEscape(b []byte) (n int, params string, final byte, complete bool) {
	if len(b) < 2 {
		return len(b), "", 0, false
	}
	switch b[1] {
	case '[': // CSI: parameters and intermediates, then a final byte 0x40–0x7e
		for i := 2; i < len(b) && i < maxEscape; i++ {
			if b[i] >= 0x40 && b[i] <= 0x7e {
				return i + 1, string(b[2:i]), b[i], true
			}
		}
	case ']': // OSC: a window title, a hyperlink…
		for i := 2; i < len(b) && i < maxEscape*4; i++ {
			if b[i] == 0x07 {
				return i + 1, "", 0, true
			}
			if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\' {
				return i + 2, "", 0, true
			}
		}
	default: // a two-byte escape
		return 2, "", 0, true
	}
	return min(len(b), maxEscape), "", 0, false
}

// apply changes the rendition by the SGR parameters ps ("1;31").
func (s *sgr) apply(ps string) {
	codes := strings.Split(ps, ";")
	for i := 0; i < len(codes); i++ {
		c, err := strconv.Atoi(codes[i])
		if err != nil {
			c = 0 // "" is 0: reset
		}
		switch {
		case c == 0:
			*s = sgr{}
		case c == 1:
			s.bold = true
		case c == 2:
			s.dim = true
		case c == 3:
			s.italic = true
		case c == 4:
			s.underline = true
		case c == 22:
			s.bold, s.dim = false, false
		case c == 23:
			s.italic = false
		case c == 24:
			s.underline = false
		case c >= 30 && c <= 37:
			s.fg = fmt.Sprintf("fg-%d", c-30)
		case c >= 90 && c <= 97:
			s.fg = fmt.Sprintf("fg-%d", c-90+8)
		case c == 39:
			s.fg = ""
		case c >= 40 && c <= 47:
			s.bg = fmt.Sprintf("bg-%d", c-40)
		case c >= 100 && c <= 107:
			s.bg = fmt.Sprintf("bg-%d", c-100+8)
		case c == 49:
			s.bg = ""
		case c == 38 || c == 48:
			var col string
			col, i = extendedColour(codes, i, c == 38)
			if c == 38 {
				s.fg = col
			} else {
				s.bg = col
			}
		}
	}
}

// extendedColour reads "38;5;N" or "38;2;R;G;B" starting at codes[i] and
// returns the colour and the index of its last parameter.
func extendedColour(codes []string, i int, fg bool) (string, int) {
	num := func(j int) int {
		if j >= len(codes) {
			return 0
		}
		n, _ := strconv.Atoi(codes[j])
		return max(0, min(n, 255))
	}
	if i+1 >= len(codes) {
		return "", i
	}
	prop, cls := "background-color", "bg"
	if fg {
		prop, cls = "color", "fg"
	}
	switch codes[i+1] {
	case "5":
		n := num(i + 2)
		if n < 16 {
			return fmt.Sprintf("%s-%d", cls, n), i + 2
		}
		r, g, b := xterm256(n)
		return fmt.Sprintf("%s:#%02x%02x%02x", prop, r, g, b), i + 2
	case "2":
		return fmt.Sprintf("%s:#%02x%02x%02x", prop, num(i+2), num(i+3), num(i+4)), i + 4
	}
	return "", i + 1
}

// xterm256 is the RGB of an xterm colour from 16 to 255.
func xterm256(n int) (r, g, b int) {
	if n >= 232 {
		v := 8 + (n-232)*10
		return v, v, v
	}
	n -= 16
	level := func(x int) int {
		if x == 0 {
			return 0
		}
		return 55 + x*40
	}
	return level(n / 36), level(n / 6 % 6), level(n % 6)
}

// attrs returns the class and style attributes of the rendition.
func (s sgr) attrs() (class, style string) {
	var cls, sty []string
	for _, f := range []struct {
		on   bool
		name string
	}{{s.bold, "a-b"}, {s.dim, "a-d"}, {s.italic, "a-i"}, {s.underline, "a-u"}} {
		if f.on {
			cls = append(cls, f.name)
		}
	}
	for _, c := range []string{s.fg, s.bg} {
		switch {
		case c == "":
		case strings.Contains(c, ":"):
			sty = append(sty, c)
		default:
			cls = append(cls, c)
		}
	}
	return strings.Join(cls, " "), strings.Join(sty, ";")
}
