package server

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// webFuncs are the functions the templates use.
var webFuncs = template.FuncMap{
	"ago":        func(t time.Time) string { return ago(t, time.Now()) },
	"abstime":    absTime,
	"isotime":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dur":        humanDuration,
	"since":      func(t time.Time) string { return humanDuration(time.Since(t)) },
	"stagedur":   stageDuration,
	"builddur":   buildDuration,
	"short":      shortDigest,
	"shortsha":   shortSHA,
	"shortrepo":  shortRepo,
	"redact":     pipeline.RedactURL, // never show a repository URL's credentials
	"projecturl": func(key string) string { return "/p/" + projectPath(key) },
	"buildurl":   buildURL,
	"statusicon": statusIcon,
	"dict":       dict,
	"done":       func(s pipeline.Status) bool { return s.Done() },
	"ansi":       func(s string) template.HTML { return template.HTML(renderANSI(s)) },
}

// ago says how long before now t was: "just now", "3 min ago", "2 h ago",
// "5 days ago"; "never" for the zero time.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
	return t.Format("2 Jan 2006")
}

// absTime is the full time, for title attributes.
func absTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// humanDuration is d rounded to what a reader needs: "0.4 s", "12 s",
// "3 min 4 s", "1 h 2 min".
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 s"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

// stageDuration is how long a stage ran, or has been running; "" when it
// has not started.
func stageDuration(st pipeline.Stage) string {
	switch {
	case st.Started.IsZero():
		return ""
	case st.Finished.IsZero():
		return humanDuration(time.Since(st.Started))
	}
	return humanDuration(st.Duration())
}

// buildDuration is how long a build ran, or has been running.
func buildDuration(b pipeline.Build) string {
	switch {
	case b.Started.IsZero():
		return ""
	case b.Finished.IsZero():
		return humanDuration(time.Since(b.Started))
	}
	return humanDuration(b.Finished.Sub(b.Started))
}

// shortDigest is "sha256:0123456789ab", the first 12 hex digits.
func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

// shortSHA is a commit's first 10 characters.
func shortSHA(c string) string {
	if len(c) > 10 {
		return c[:10]
	}
	return c
}

// statusIcon is a symbol for a status, shown beside its word.
func statusIcon(s pipeline.Status) string {
	switch s {
	case pipeline.StatusSucceeded:
		return "✓"
	case pipeline.StatusFailed:
		return "✗"
	case pipeline.StatusRunning:
		return "●"
	case pipeline.StatusQueued:
		return "○"
	case pipeline.StatusCancelled:
		return "⊘"
	case pipeline.StatusSkipped:
		return "–"
	}
	return "?"
}

// dict makes a map from key, value pairs, to pass several values to a
// template: {{template "field" (dict "Name" "tag" "Value" .Tag)}}.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// shortRepo is a repository URL for a narrow column: without its scheme
// and credentials, and, when long, only its end (where the name is) after
// "…".
func shortRepo(u string) string {
	const max = 38
	u = pipeline.RedactURL(u)
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	if r := []rune(u); len(r) > max {
		return "…" + string(r[len(r)-max+1:])
	}
	return u
}
