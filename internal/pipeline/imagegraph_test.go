package pipeline

import (
	"reflect"
	"strings"
	"testing"
)

func proj(key string, deps ...string) Project {
	ref, err := ParseImageRef(key)
	if err != nil {
		panic(err)
	}
	ns := ref.Namespace
	if ns == "" {
		ns = LibraryNamespace
	}
	p := Project{AppID: ns, JobID: ref.Name, Tag: ref.Tag}
	for _, d := range deps {
		r, err := ParseImageRef(d)
		if err != nil {
			panic(err)
		}
		p.DependsOn = append(p.DependsOn, r)
	}
	return p
}

func refs(s ...string) []ImageRef {
	var out []ImageRef
	for _, x := range s {
		r, _ := ParseImageRef(x)
		out = append(out, r)
	}
	return out
}

func TestGraphPlan(t *testing.T) {
	projects := []Project{
		proj("centos/httpd:latest", "centos/centos:7"),
		proj("centos/centos:7"),
		proj("app/web:1"), // FROM centos/httpd
		proj("app/api:1", "centos/centos:7"),
		proj("other/thing:1"),
		proj("app/both:1", "app/web:1"), // FROM app/api:1 too
	}
	from := map[string][]ImageRef{
		"app/web:1":  refs("centos/httpd"),
		"app/both:1": refs("app/api:1", "app/web:1", "docker.io/x/y"),
	}
	g := NewGraph(projects, from)
	tests := []struct {
		name    string
		changed map[string]string
		want    []string // "depth key reason"
	}{
		{"leaf", map[string]string{"other/thing:1": "--changed"}, []string{"0 other/thing:1 changed (--changed)"}},
		{"root", map[string]string{"centos/centos:7": "--changed"}, []string{
			"0 centos/centos:7 changed (--changed)",
			"1 centos/httpd:latest parent centos/centos:7 rebuilds",
			"2 app/web:1 parent centos/httpd:latest rebuilds",
			"1 app/api:1 parent centos/centos:7 rebuilds",
			"3 app/both:1 parent app/web:1, parent app/api:1 rebuilds",
		}},
		{"middle and root", map[string]string{"app/web:1": "push", "app/api:1": "push"}, []string{
			"0 app/web:1 changed (push)",
			"0 app/api:1 changed (push)",
			"1 app/both:1 parent app/web:1, parent app/api:1 rebuilds",
		}},
		{"unknown", map[string]string{"no/such:1": "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := g.Plan(tt.changed)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range steps {
				got = append(got, strings.Join([]string{itoa(s.Depth), s.Key, s.Reason}, " "))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if got := g.Via("app/web:1", "app/both:1"); got != "depends-on, FROM" {
		t.Errorf("Via = %q", got)
	}
	if !g.FromKnown("app/web:1") || g.FromKnown("app/api:1") {
		t.Error("FromKnown wrong")
	}
	if c := g.Cycle("app/web:1"); c != nil {
		t.Errorf("Cycle = %v, want none", c)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestGraphCycle(t *testing.T) {
	projects := []Project{proj("a/a:1", "c/c:1"), proj("b/b:1", "a/a:1"), proj("c/c:1"), proj("d/d:1", "a/a:1")}
	g := NewGraph(projects, map[string][]ImageRef{"c/c:1": refs("b/b:1")})
	if got, want := g.Cycle("a/a:1"), []string{"a/a:1", "b/b:1", "c/c:1", "a/a:1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Cycle = %v, want %v", got, want)
	}
	steps, err := g.Plan(map[string]string{"a/a:1": "x"})
	if err == nil || !strings.Contains(err.Error(), "cycle") || len(steps) != 0 {
		t.Errorf("Plan = %v, %v; want a cycle error", steps, err)
	}
}

func TestFromRef(t *testing.T) {
	tests := []struct {
		image, host string
		want        string // "" for no match
	}{
		{"centos", "", "centos:latest"},
		{"library/centos:7", "", "centos:7"},
		{"ns/name", "h:5000", "ns/name:latest"},
		{"h:5000/ns/name:2", "h:5000", "ns/name:2"},
		{"H:5000/ns/name:2", "h:5000", "ns/name:2"},
		{"other:5000/ns/name:2", "h:5000", ""},
		{"docker.io/library/centos", "h:5000", ""},
		{"localhost/x", "", ""},
		{"ns/name@sha256:abc", "", ""},
		{"a/b/c", "", ""},
	}
	for _, tt := range tests {
		ref, ok := FromRef(tt.image, tt.host)
		got := ""
		if ok {
			got = ref.String()
		}
		if got != tt.want {
			t.Errorf("FromRef(%q, %q) = %q, want %q", tt.image, tt.host, got, tt.want)
		}
	}
}
