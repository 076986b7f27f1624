package pipeline

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pass@host/x.git":       "http://user:***@host/x.git",
		"https://TOKEN@github.com/org/repo": "https://***@github.com/org/repo",
		"HTTPS://TOKEN@github.com/org/repo": "HTTPS://***@github.com/org/repo",
		"https://x:p@ss@host/r":             "https://x:***@host/r",
		"ssh://git:pw@host/x":               "ssh://git:***@host/x",
		"ssh://git@host/x":                  "ssh://git@host/x",
		"git@github.com:org/repo.git":       "git@github.com:org/repo.git",
		"https://github.com/org/repo":       "https://github.com/org/repo",
		"https://host/a@b":                  "https://host/a@b",
		"https://host?u=a@b":                "https://host?u=a@b",
		"/srv/git/repo":                     "/srv/git/repo",
		"":                                  "",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactText(t *testing.T) {
	for in, want := range map[string]string{
		"fatal: unable to access 'http://user:s3cret@host/x.git/': refused": "fatal: unable to access 'http://user:***@host/x.git/': refused",
		"cloning https://tok@h/r and http://a:b@c/d failed":                 "cloning https://***@h/r and http://a:***@c/d failed",
		"mail me at alice@example.com":                                      "mail me at alice@example.com",
		"no urls here":                                                      "no urls here",
	} {
		if got := RedactText(in); got != want {
			t.Errorf("RedactText(%q) = %q, want %q", in, got, want)
		}
	}
}
