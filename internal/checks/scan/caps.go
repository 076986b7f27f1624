package scan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// runLabels are the labels that tell how to run or install an image
// (atomic and cccp images set them, in any case).
var runLabels = map[string]bool{"run": true, "install": true, "uninstall": true}

// ScanCapabilities flags what the image's RUN, INSTALL and UNINSTALL
// labels ask of the host: --privileged, --cap-add, host namespaces,
// label=disable, and bind mounts of the host's root.
func ScanCapabilities(labels map[string]string) pipeline.ScannerResult {
	res := pipeline.ScannerResult{Scanner: "capabilities", Status: pipeline.ScanOK}
	var keys []string
	for k := range labels {
		if runLabels[strings.ToLower(k)] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		res.Detail = "no RUN/INSTALL label"
		return res
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, f := range capabilityFindings(labels[k]) {
			f.Location = k
			res.Findings = append(res.Findings, f)
		}
	}
	res.Detail = fmt.Sprintf("%d finding(s) in label(s) %s", len(res.Findings), strings.Join(keys, ", "))
	return res
}

// capabilityFindings tokenizes a docker-run-like command line and flags
// the options that weaken isolation.
func capabilityFindings(cmd string) []pipeline.Finding {
	tok := shellFields(cmd)
	var out []pipeline.Finding
	add := func(sev, id, msg string) {
		out = append(out, pipeline.Finding{Severity: sev, ID: id, Message: msg})
	}
	for i := 0; i < len(tok); i++ {
		opt, val, hasVal := strings.Cut(tok[i], "=")
		// next returns the option's value, inline (--x=v) or the next token.
		next := func() string {
			if hasVal {
				return val
			}
			if i+1 < len(tok) {
				i++
				return tok[i]
			}
			return ""
		}
		switch opt {
		case "--privileged":
			if !hasVal || val == "true" {
				add("high", "privileged", "runs the container --privileged: every capability and device of the host")
			}
		case "--cap-add":
			c := strings.ToUpper(next())
			add("medium", "cap-add", "adds the capability "+c)
		case "--net", "--network", "--pid", "--ipc", "--uts", "--userns":
			if v := next(); v == "host" {
				ns := strings.TrimPrefix(opt, "--")
				if ns == "network" {
					ns = "net"
				}
				sev := "medium"
				if ns == "pid" {
					sev = "high"
				}
				add(sev, "host-"+ns, "shares the host's "+ns+" namespace ("+opt+"=host)")
			}
		case "--security-opt":
			if v := next(); v == "label=disable" || v == "label:disable" {
				add("medium", "label-disable", "disables SELinux separation (--security-opt "+v+")")
			}
		case "-v", "--volume":
			if src, _, ok := strings.Cut(next(), ":"); ok && isRootPath(src) {
				add("high", "host-root-mount", "mounts the host's root filesystem ("+tok[i]+")")
			}
		case "--mount":
			if isRootMount(next()) {
				add("high", "host-root-mount", "mounts the host's root filesystem (--mount "+tok[i]+")")
			}
		}
	}
	return out
}

// isRootPath reports whether p names the root directory: "/", "//", "/.".
func isRootPath(p string) bool {
	return p != "" && strings.Trim(p, "/.") == "" && strings.HasPrefix(p, "/")
}

// isRootMount reports whether a --mount spec binds the host's root.
func isRootMount(spec string) bool {
	bind := true
	root := false
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			bind = v == "bind"
		case "source", "src":
			root = isRootPath(v)
		}
	}
	return bind && root
}

// shellFields splits s like a POSIX shell would split words: quotes group,
// backslashes escape; no expansion.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
