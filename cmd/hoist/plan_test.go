package main

import (
	"context"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestPlan(t *testing.T) {
	const idx = "../../examples/index.d"
	code, out, errs := hoist("plan", "--index", idx, "--changed", "examples/busybox")
	want := "2 to rebuild, in this order:\n" +
		"1. examples/busybox:latest — changed (--changed)\n" +
		"2.   examples/web:v1.0.0 — parent examples/busybox:latest rebuilds (depends-on)\n" +
		"note: FROM edges unknown (no --data): only depends-on is used\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d\n%s%s\nwant\n%s", code, out, errs, want)
	}

	// A build recorded that hello's target file is FROM examples/busybox.
	data := t.TempDir()
	st, err := openStore(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := pipeline.ParseImageRef("examples/busybox")
	if err := st.SetFromImages(context.Background(), "examples/hello:latest", []pipeline.ImageRef{ref}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errs = hoist("plan", "--index", idx, "--data", data, "--changed", "examples/busybox:latest")
	for _, w := range []string{"3 to rebuild", "examples/hello:latest — parent examples/busybox:latest rebuilds (FROM)",
		"note: FROM edges unknown for 2 projects that never built here"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("with --data: exit %d, want %q in\n%s%s", code, w, out, errs)
		}
	}

	code, out, errs = hoist("plan", "--index", idx, "--push", "../..//@main")
	if code != 0 || !strings.Contains(out, "3 to rebuild") || !strings.Contains(out, "changed (push to ../..//@main)") {
		t.Errorf("--push: exit %d\n%s%s", code, out, errs)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan", "--index", idx}, 2, "usage: hoist plan"},
		{[]string{"plan", "--index", idx, "--push", "../.."}, 1, "want REPO@BRANCH"},
		{[]string{"plan", "--index", idx, "--push", "../..@nope"}, 1, "no project of the index builds branch nope"},
		{[]string{"plan", "--index", idx, "--changed", "no/such"}, 1, "--changed no/such: no entry of the index builds that image"},
		{[]string{"plan", "--index", idx, "--data", t.TempDir(), "--changed", "examples/busybox"}, 1, "no hoist.db there"},
	} {
		code, out, errs := hoist(tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("hoist %v: exit %d, want %d with %q\n%s%s", tt.args, code, tt.code, tt.want, out, errs)
		}
	}
}

// TestPlanRealIndex plans over the last real cccp index (2023), whose base
// image centos/centos:7 names itself in depends-on: it rebuilds first, then
// its children, then theirs.
func TestPlanRealIndex(t *testing.T) {
	const idx = "../../internal/index/testdata/history/2023-01-10-aa5fad5"
	code, out, errs := hoist("plan", "--index", idx, "--changed", "centos/centos:7")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "centos.yaml:264:17: warning: depends-on names this entry's own image centos/centos:7") {
		t.Errorf("no warning about the self-reference:\n%s", errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "117 to rebuild") ||
		!strings.Contains(lines[1], "1. centos/centos:7 — changed (--changed)") {
		t.Fatalf("want 117 steps, centos/centos:7 first:\n%s", out)
	}
	at := map[string]int{}
	for i, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 1 {
			at[f[1]] = i
		}
	}
	for _, pair := range [][2]string{
		{"centos/centos:7", "centos/httpd:latest"},
		{"centos/centos:7", "centos/kubernetes-master:latest"},
		{"centos/kubernetes-master:latest", "centos/kubernetes-apiserver:latest"},
	} {
		parent, okP := at[pair[0]]
		child, okC := at[pair[1]]
		if !okP || !okC || parent >= child {
			t.Errorf("%s (step %d, listed %v) must come before %s (step %d, listed %v):\n%s",
				pair[0], parent+1, okP, pair[1], child+1, okC, out)
		}
	}
}
