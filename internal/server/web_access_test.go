package server

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStatusContrast: the status colours read against their backgrounds
// at WCAG AA (4.5:1 for normal text).
func TestStatusContrast(t *testing.T) {
	css, err := staticFS.ReadFile("static/hoist.css")
	webMust(t, err)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+): (#[0-9a-f]{6});`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	for _, c := range []struct{ what, fg, bg string }{
		{"queued", vars["wait"], vars["wait-bg"]},
		{"skipped", vars["mute"], "#f3f4f6"},
		{"skipped in the timeline", vars["mute"], "#fbfbfc"},
		{"running", vars["run"], vars["run-bg"]},
		{"succeeded", vars["ok"], vars["ok-bg"]},
		{"failed", vars["fail"], vars["fail-bg"]},
		{"muted text", vars["muted"], vars["bg"]},
	} {
		if r := contrast(c.fg, c.bg); r < 4.5 {
			t.Errorf("%s: %s on %s is %.2f:1, want at least 4.5:1", c.what, c.fg, c.bg, r)
		}
	}
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	lum := func(hex string) float64 {
		var l float64
		for i, w := range []float64{0.2126, 0.7152, 0.0722} {
			v, _ := strconv.ParseUint(strings.TrimPrefix(hex, "#")[2*i:2*i+2], 16, 8)
			c := float64(v) / 255
			if c <= 0.03928 {
				c /= 12.92
			} else {
				c = math.Pow((c+0.055)/1.055, 2.4)
			}
			l += w * c
		}
		return l
	}
	la, lb := lum(a), lum(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// TestSkipLink: every page starts with a link to its content.
func TestSkipLink(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	_, body := e.get("/", anon)
	skip, header := strings.Index(body, `<a class="skip" href="#main">`), strings.Index(body, `<header`)
	if skip < 0 || skip > header || !strings.Contains(body, `<main id="main" tabindex="-1">`) {
		t.Errorf("no skip link before the header, or no #main")
	}
}
