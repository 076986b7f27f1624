package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// maxCVEOutput bounds what the CVE command may print on stdout.
const maxCVEOutput = 64 << 20

// runCVE runs the configured CVE scanner against image and stores its JSON.
func (s *Scanner) runCVE(ctx context.Context, image, digest string) pipeline.ScannerResult {
	res := pipeline.ScannerResult{Scanner: "cve"}
	if len(s.opts.CVECommand) == 0 {
		res.Status, res.Detail = pipeline.ScanNA, "no CVE scanner configured"
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CVETimeout)
	defer cancel()
	argv := make([]string, len(s.opts.CVECommand))
	for i, a := range s.opts.CVECommand {
		argv[i] = strings.ReplaceAll(a, "{image}", image)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOIST_IMAGE="+image, "HOIST_DIGEST="+digest)
	cmd.Env = append(cmd.Env, pipeline.OwnerOf(ctx).Env()...) // a restart kills it, a crash left it

	// The scanner and whatever it started go when the time is up; children
	// that still hold the pipes do not hang us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return os.ErrProcessDone
		}
		return nil
	}
	cmd.WaitDelay = 2 * time.Second // a cancelled build stops within 5 s
	stdout := &limitedBuffer{max: maxCVEOutput}
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	res.Status = pipeline.ScanError
	name := argv[0]
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.Detail = fmt.Sprintf("%s did not finish within %s%s", name, s.opts.CVETimeout, stderr.lines(10))
		return res
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			res.Detail = fmt.Sprintf("%s exited with status %d%s", name, ee.ExitCode(), stderr.lines(10))
		} else {
			res.Detail = fmt.Sprintf("running %s: %v%s", name, err, stderr.lines(10))
		}
		return res
	case stdout.over:
		res.Detail = fmt.Sprintf("%s printed more than %d bytes", name, maxCVEOutput)
		return res
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if !json.Valid(out) {
		res.Detail = fmt.Sprintf("%s printed no JSON on stdout (%d bytes starting %q)%s", name, len(out), head(out, 60), stderr.lines(10))
		return res
	}
	res.Status, res.Raw = pipeline.ScanOK, out
	if f, format, ok := ParseCVEReport(out); ok {
		res.Findings = f
		res.Detail = fmt.Sprintf("%s report: %s", format, severitySummary(f))
	} else {
		res.Detail = fmt.Sprintf("stored %d bytes of JSON", len(out))
	}
	return res
}

// ParseCVEReport recognises Trivy's (Results[].Vulnerabilities[]) and
// Grype's (matches[]) JSON reports and returns their vulnerabilities as
// findings, with the format's name. ok is false for anything else.
func ParseCVEReport(data []byte) (findings []pipeline.Finding, format string, ok bool) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(data, &doc) != nil {
		return nil, "", false
	}
	if raw, has := doc["Results"]; has {
		var results []struct {
			Target          string
			Vulnerabilities []struct {
				VulnerabilityID  string
				PkgName          string
				InstalledVersion string
				FixedVersion     string
				Severity         string
				Title            string
			}
		}
		if json.Unmarshal(raw, &results) != nil {
			return nil, "", false
		}
		for _, r := range results {
			for _, v := range r.Vulnerabilities {
				msg := v.Title
				if v.FixedVersion != "" {
					msg = strings.TrimSpace(msg + " (fixed in " + v.FixedVersion + ")")
				}
				findings = append(findings, pipeline.Finding{
					Severity: severity(v.Severity),
					ID:       v.VulnerabilityID,
					Message:  msg,
					Location: pkgAt(v.PkgName, v.InstalledVersion, r.Target),
				})
			}
		}
		return findings, "trivy", true
	}
	if raw, has := doc["matches"]; has {
		var matches []struct {
			Vulnerability struct {
				ID          string `json:"id"`
				Severity    string `json:"severity"`
				Description string `json:"description"`
				Fix         struct {
					Versions []string `json:"versions"`
				} `json:"fix"`
			} `json:"vulnerability"`
			Artifact struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Type    string `json:"type"`
			} `json:"artifact"`
		}
		if json.Unmarshal(raw, &matches) != nil {
			return nil, "", false
		}
		for _, m := range matches {
			msg := m.Vulnerability.Description
			if len(m.Vulnerability.Fix.Versions) > 0 {
				msg = strings.TrimSpace(msg + " (fixed in " + strings.Join(m.Vulnerability.Fix.Versions, ", ") + ")")
			}
			findings = append(findings, pipeline.Finding{
				Severity: severity(m.Vulnerability.Severity),
				ID:       m.Vulnerability.ID,
				Message:  msg,
				Location: pkgAt(m.Artifact.Name, m.Artifact.Version, m.Artifact.Type),
			})
		}
		return findings, "grype", true
	}
	return nil, "", false
}

// pkgAt names a vulnerable package: "openssl 3.0.2 (debian 12)".
func pkgAt(name, version, where string) string {
	s := strings.TrimSpace(name + " " + version)
	if where != "" {
		s += " (" + where + ")"
	}
	return s
}

// severity maps a scanner's severity to Hoist's lower-case words;
// critical stays critical, unknown and negligible ones become info and low.
func severity(s string) string {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "critical", "high", "medium", "low":
		return s
	case "negligible":
		return "low"
	case "moderate":
		return "medium"
	case "important":
		return "high"
	}
	return "info"
}

// severitySummary counts findings by severity: "3 finding(s): 1 critical, 2 high".
func severitySummary(f []pipeline.Finding) string {
	if len(f) == 0 {
		return "no vulnerabilities"
	}
	n := map[string]int{}
	for _, x := range f {
		n[x.Severity]++
	}
	order := []string{"critical", "high", "medium", "low", "info"}
	var parts []string
	for _, s := range order {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return fmt.Sprintf("%d vulnerabilit%s: %s", len(f), plural(len(f), "y", "ies"), strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// head returns at most n bytes of b, as text.
func head(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// limitedBuffer keeps at most max bytes and notes whether more came.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.Len(); len(p) > room {
		l.over = true
		if room > 0 {
			l.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return l.Buffer.Write(p)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

// lines returns the last n lines, prefixed for appending to a detail; ""
// when nothing was written.
func (t *tailBuffer) lines(n int) string {
	return lastLines(string(t.buf), n)
}

// lastLines returns ": " and the last n non-empty lines of s joined by
// newlines, or "" when s is blank.
func lastLines(s string, n int) string {
	var ls []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r "); strings.TrimSpace(l) != "" {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		return ""
	}
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return ":\n" + strings.Join(ls, "\n")
}
