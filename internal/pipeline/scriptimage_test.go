package pipeline

import (
	"strings"
	"testing"
)

func TestCheckEngineRef(t *testing.T) {
	for _, ok := range []string{
		"busybox", "busybox:1.36", "library/busybox", "tools/node:20-alpine",
		"registry.example.com/tools/node:20", "localhost:5000/a/b/c:tag",
		"127.0.0.1:5000/img", "img@sha256:" + strings.Repeat("a", 64),
		"reg.io:443/x/y:1@sha256:" + strings.Repeat("0", 64),
	} {
		if err := CheckEngineRef(ok); err != nil {
			t.Errorf("CheckEngineRef(%q) = %v, want nil", ok, err)
		}
	}
	for _, tt := range []struct{ ref, want string }{
		{"", "empty image reference"},
		{"Busybox", "repository names are lowercase"},
		{"docker://busybox", "URL scheme"},
		{"busy box", "has spaces"},
		{"busybox:", `invalid tag ""`},
		{"busybox:bad/tag:x", `"busybox:bad" is not a valid registry host`},
		{"bad_host:5000:1/x", "not a valid registry host"},
		{"img@sha256:abc", `invalid digest "sha256:abc"`},
		{"a//b", `"" is not a valid name component`},
	} {
		err := CheckEngineRef(tt.ref)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckEngineRef(%q) = %v, want an error with %q", tt.ref, err, tt.want)
		}
	}
}
