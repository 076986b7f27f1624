package pipeline

import "testing"

func TestNormalizeRepoURL(t *testing.T) {
	const want = "github.com/Org/Repo"
	for _, u := range []string{
		"https://github.com/Org/Repo",
		"https://GitHub.com/Org/Repo.git",
		"https://github.com/Org/Repo/",
		"HTTPS://github.com:443/Org/Repo.git/",
		"http://user:token@github.com/Org/Repo",
		"ssh://git@github.com/Org/Repo.git",
		"git@github.com:Org/Repo.git",
		"github.com:Org/Repo",
	} {
		if got := NormalizeRepoURL(u); got != want {
			t.Errorf("NormalizeRepoURL(%q) = %q, want %q", u, got, want)
		}
	}
	for _, pair := range [][2]string{
		{"https://host:8443/a/b.git", "host:8443/a/b"},
		{"/srv/git/repo.git/", "/srv/git/repo"},
		{"file:///srv/git/repo", "/srv/git/repo"},
		{"https://github.com/org/repo", "github.com/org/repo"}, // paths keep their case
	} {
		if got := NormalizeRepoURL(pair[0]); got != pair[1] {
			t.Errorf("NormalizeRepoURL(%q) = %q, want %q", pair[0], got, pair[1])
		}
	}
}

func TestCauses(t *testing.T) {
	for got, want := range map[string]string{
		PushCause("abc1234def5678", "main"): "git push abc1234 to main",
		PushCause("abc", "dev"):             "git push abc to dev",
		PollCause("abc1234def5678", "main"): "poll found abc1234 on main",
		ScheduleCause("@weekly"):            "schedule weekly",
		ScheduleCause("0 3 * * 1"):          "schedule 0 3 * * 1",
		ScheduleCause("@every 1h"):          "schedule @every 1h",
	} {
		if got != want {
			t.Errorf("cause %q, want %q", got, want)
		}
	}
}

func TestSameCommit(t *testing.T) {
	full := "ABCDEF1234567890abcdef1234567890abcdef12"
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{full, "abcdef1234567890abcdef1234567890abcdef12", true},
		{full, "abcdef1", true},
		{full, "abcdef", false},
		{full, "", false},
		{full, "abcdef2", false},
	} {
		if got := SameCommit(tc.a, tc.b); got != tc.want {
			t.Errorf("SameCommit(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
