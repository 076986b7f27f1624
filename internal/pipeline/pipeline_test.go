package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseImageRef(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"centos/centos:7", "centos/centos:7", ""},
		{"centos/centos", "centos/centos:latest", ""},
		{"library/centos", "centos:latest", ""},
		{"centos", "centos:latest", ""},
		{"dharmit/golang:1.8", "dharmit/golang:1.8", ""},
		{"", "", "empty"},
		{"Centos/x", "", "not a valid name"},
		{"reg.io/ns/x:1", "", "not a registry path"},
		{"ns/x@sha256:abc", "", "digests are not allowed"},
		{"ns/x:bad tag", "", "invalid tag"},
		{"ns/x:", "", "invalid tag"},
	}
	for _, tt := range tests {
		got, err := ParseImageRef(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseImageRef(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseImageRef(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestPaths(t *testing.T) {
	for in, want := range map[string]string{"/": ".", "": ".", "docker": "docker", "/docker/": "docker", "10.0/": "10.0", "a/./b": "a/b"} {
		if got, err := CleanRel(in); err != nil || got != want {
			t.Errorf("CleanRel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"..", "../x", "a/../../x", "/../x"} {
		if _, err := CleanRel(bad); err == nil {
			t.Errorf("CleanRel(%q) should escape", bad)
		}
	}
	if got, err := JoinRel("10.0", "../"); err != nil || got != "." {
		t.Errorf("JoinRel(10.0, ../) = %q, %v", got, err)
	}
	for _, c := range [][2]string{{".", ".."}, {"a", "../../b"}, {"a", "/etc"}} {
		if _, err := JoinRel(c[0], c[1]); err == nil {
			t.Errorf("JoinRel(%q, %q) should escape", c[0], c[1])
		}
	}
}

func TestSafeJoin(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "a"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "a", "Dockerfile"), nil, 0o644))
	must(t, os.Symlink("../a/Dockerfile", filepath.Join(root, "a", "inside")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(root, "a", "abs")))
	must(t, os.Symlink(outside, filepath.Join(root, "out")))
	for _, ok := range []string{"a/Dockerfile", "a/inside", "a/missing", "."} {
		if _, err := SafeJoin(root, ok); err != nil {
			t.Errorf("SafeJoin(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"a/abs", "out", "out/x", "../x", "a/../../etc/passwd"} {
		if _, err := SafeJoin(root, bad); err == nil || !strings.Contains(err.Error(), "outside the checkout") {
			t.Errorf("SafeJoin(%q) = %v, want outside the checkout", bad, err)
		}
	}
}

func TestOrder(t *testing.T) {
	p := func(name string, deps ...string) Project {
		pr := Project{AppID: "ns", JobID: name, Tag: "latest"}
		for _, d := range deps {
			r, _ := ParseImageRef(d)
			pr.DependsOn = append(pr.DependsOn, r)
		}
		return pr
	}
	in := []Project{p("c", "ns/b"), p("b", "ns/a"), p("a"), p("x", "ns/y"), p("y", "ns/x"), p("z", "ns/x", "other/img")}
	order, cycles := Order(in)
	var keys []string
	for _, o := range order {
		keys = append(keys, o.Key())
	}
	if diff := cmp.Diff([]string{"ns/a:latest", "ns/b:latest", "ns/c:latest"}, keys); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"ns/x:latest", "ns/y:latest", "ns/x:latest"}}, cycles); diff != "" {
		t.Errorf("cycles (-want +got):\n%s", diff)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
