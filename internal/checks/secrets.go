package checks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
)

// maxSecretScan is how much of each file the secrets check reads.
const maxSecretScan = 4 << 20

// binarySniff is how much of a file decides whether it is binary (a NUL
// byte in it), in which case its content is not scanned.
const binarySniff = 8 << 10

// secretRule finds one kind of secret in a text file's content.
type secretRule struct {
	what string
	pre  [][]byte // cheap test: the content has one of these
	re   *regexp.Regexp
	// ignore reports whether a match is a known placeholder.
	ignore func(match []byte) bool
}

var secretRules = []secretRule{
	{
		// PEM and OpenSSH private keys, with a body: the bare marker alone
		// (as in a library's source) is not a key.
		what: "private key",
		pre:  [][]byte{[]byte("PRIVATE KEY")},
		re:   regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[ \t]*\r?\n(?:[A-Za-z-]+:[^\n]*\r?\n)*\s*[A-Za-z0-9+/=]{32,}`),
	},
	{
		what:   "AWS access key id",
		pre:    [][]byte{[]byte("AKIA"), []byte("ASIA")},
		re:     regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`),
		ignore: func(m []byte) bool { return bytes.HasSuffix(m, []byte("EXAMPLE")) },
	},
	{
		what: "GCP service-account key",
		pre:  [][]byte{[]byte("service_account")},
		re:   regexp.MustCompile(`(?s)"type"\s*:\s*"service_account".*?"private_key"\s*:\s*"-----BEGIN [A-Z ]*PRIVATE KEY-----|"private_key"\s*:\s*"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?"type"\s*:\s*"service_account"`),
	},
	{
		what: "Azure storage connection string",
		pre:  [][]byte{[]byte("AccountKey=")},
		re:   regexp.MustCompile(`DefaultEndpointsProtocol=[^;\s]+;\s*AccountName=[^;\s]+;\s*AccountKey=[A-Za-z0-9+/]{40,}={0,2}`),
		// Azurite's well-known development account.
		ignore: func(m []byte) bool { return bytes.Contains(m, []byte("AccountName=devstoreaccount1;")) },
	},
}

// envFile reports whether a file name is a dotenv file with settings,
// not a template of one.
func envFile(base string) bool {
	if base == ".env" {
		return true
	}
	if !strings.HasPrefix(base, ".env.") {
		return false
	}
	switch strings.TrimPrefix(base, ".env.") {
	case "example", "sample", "template", "dist", "defaults", "tmpl", "schema":
		return false
	}
	return true
}

// secretFinding is a secret in one layer's file.
type secretFinding struct {
	path  string
	layer int
	line  int // 0 for a finding about the file itself
	what  string
}

// secretScan collects findings while the image's layers are read.
type secretScan struct {
	findings []secretFinding
	removals map[string][]int // path → the layers that deleted it, in order
	buf      []byte
}

func newSecretScan(Options) *secretScan {
	return &secretScan{removals: map[string][]int{}}
}

func (s *secretScan) removed(p string, layer int) {
	s.removals[p] = append(s.removals[p], layer)
}

// visit scans one file of one layer (imagefs.Options.Visit).
func (s *secretScan) visit(f imagefs.File, r io.Reader) error {
	if f.Size == 0 {
		return nil
	}
	if envFile(path.Base(f.Path)) {
		s.findings = append(s.findings, secretFinding{f.Path, f.Layer, 0, "a .env file"})
	}
	if cap(s.buf) < binarySniff {
		s.buf = make([]byte, 0, binarySniff)
	}
	head := s.buf[:min(int64(binarySniff), f.Size)]
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("reading %s in layer %d: %w", f.Path, f.Layer, err)
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil // binary
	}
	content := head
	if f.Size > int64(n) {
		rest, err := io.ReadAll(io.LimitReader(r, maxSecretScan-int64(n)))
		if err != nil {
			return fmt.Errorf("reading %s in layer %d: %w", f.Path, f.Layer, err)
		}
		content = append(append(make([]byte, 0, n+len(rest)), head...), rest...)
	}
	for _, rule := range secretRules {
		if !hasAny(content, rule.pre) {
			continue
		}
		for _, loc := range rule.re.FindAllIndex(content, -1) {
			if rule.ignore != nil && rule.ignore(content[loc[0]:loc[1]]) {
				continue
			}
			line := bytes.Count(content[:loc[0]], []byte("\n")) + 1
			s.findings = append(s.findings, secretFinding{f.Path, f.Layer, line, rule.what})
			break // one of a kind per file
		}
	}
	return nil
}

func hasAny(b []byte, subs [][]byte) bool {
	for _, s := range subs {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

// where says where a finding lives now: in the merged view, or only in
// the image's history.
func (s *secretScan) where(fsys *imagefs.FS, f secretFinding) string {
	for _, l := range s.removals[f.path] {
		if l > f.layer {
			return fmt.Sprintf("in layer %d, deleted in layer %d: still in the image's history", f.layer, l)
		}
	}
	if cur, ok := fsys.Lstat(f.path); ok && cur.Layer > f.layer {
		return fmt.Sprintf("in layer %d, replaced in layer %d: still in the image's history", f.layer, cur.Layer)
	}
	return fmt.Sprintf("in layer %d", f.layer)
}

// maxDetailFindings bounds the findings a result's Detail lists; Output
// has them all.
const maxDetailFindings = 10

// checkSecrets reports what the scan of every layer's files found.
func checkSecrets(_ context.Context, r *run) outcome {
	if r.fs == nil {
		return r.noFS()
	}
	s := r.secrets
	if len(s.findings) == 0 {
		return outcome{status: pipeline.CheckPass, detail: fmt.Sprintf("no private key, cloud access key or .env file in the %d layer(s)", r.fs.Layers())}
	}
	var lines []string
	for _, f := range s.findings {
		loc := f.path
		if f.line > 0 {
			loc = fmt.Sprintf("%s:%d", f.path, f.line)
		}
		lines = append(lines, fmt.Sprintf("%s: %s (%s)", loc, f.what, s.where(r.fs, f)))
	}
	detail := lines
	if len(detail) > maxDetailFindings {
		detail = append(detail[:maxDetailFindings:maxDetailFindings], fmt.Sprintf("and %d more", len(lines)-maxDetailFindings))
	}
	out := strings.Join(lines, "\n")
	if len(out) > maxOutput {
		out = out[:maxOutput] + "\n[…]"
	}
	return outcome{
		status: pipeline.CheckFail,
		detail: strings.Join(detail, "\n") + "\nremove them from the build (a later RUN rm does not: use a multi-stage build or a build secret) and rotate them",
		output: out,
	}
}
