package engine

import (
	"strings"
	"testing"
)

func TestIgnoreMatcher(t *testing.T) {
	tests := []struct {
		ignore string
		path   string
		want   bool
	}{
		{"", "a", false},
		{"a", "a", true},
		{"a", "a/b/c", true},
		{"a", "b/a", false},
		{"/a", "a", true},
		{"./a/", "a/x", true},
		{"*.md", "README.md", true},
		{"*.md", "docs/x.md", false},
		{"**/*.md", "docs/x.md", true},
		{"**/*.md", "x.md", true},
		{"docs/**", "docs/a/b", true},
		{"docs/**", "docsx", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"?.txt", "a.txt", true},
		{"?.txt", "ab.txt", false},
		{"[a-c].txt", "b.txt", true},
		{"[a-c].txt", "d.txt", false},
		{"[^a].txt", "a.txt", false},
		{"[^a].txt", "b.txt", true},
		{`\*`, "*", true},
		{`\*`, "x", false},
		{"a.b", "axb", false},
		{"*\n!keep", "keep", false},
		{"*\n!keep", "other", true},
		{"dir\n!dir/keep", "dir/keep", false},
		{"dir\n!dir/keep", "dir/other", true},
		{"# comment\nx", "# comment", false},
		{"!x\nx", "x", true},
		{"x\n!x\nx", "x", true},
		{"  spaced  ", "spaced", true},
	}
	for _, tt := range tests {
		m, err := parseIgnore(strings.NewReader(tt.ignore))
		if err != nil {
			t.Fatalf("%q: %v", tt.ignore, err)
		}
		if got := m.excluded(tt.path); got != tt.want {
			t.Errorf("ignore %q, path %q: excluded = %v, want %v (%v)", tt.ignore, tt.path, got, tt.want, m.patterns)
		}
	}
}

func TestIgnoreKeep(t *testing.T) {
	m, err := parseIgnore(strings.NewReader("*\n"))
	if err != nil {
		t.Fatal(err)
	}
	m.keep("Dockerfile", ".dockerignore")
	for _, p := range []string{"Dockerfile", ".dockerignore"} {
		if m.excluded(p) {
			t.Errorf("%s is excluded after keep", p)
		}
	}
	if !m.excluded("other") {
		t.Error("other is no longer excluded")
	}
}

func TestIgnoreBadPattern(t *testing.T) {
	for _, in := range []string{"!", "[a"} {
		if _, err := parseIgnore(strings.NewReader("ok\n" + in)); err == nil || !strings.Contains(err.Error(), ".dockerignore:2") {
			t.Errorf("%q: err = %v, want one naming line 2", in, err)
		}
	}
}
