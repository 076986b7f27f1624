package main

import (
	"context"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestProjectTrustAndLimits runs hoist project trust, untrust and limits
// on a --data store with a project: each changes what it says, prints
// what changed, and fails clearly for a missing project or a bad value.
func TestProjectTrustAndLimits(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	st, err := openStore(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := pipeline.Project{AppID: "team", JobID: "app", Tag: "latest", GitURL: "https://example.com/app.git", GitBranch: "main", TargetFile: "Dockerfile"}
	if err := st.PutProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	stored := func() pipeline.Project {
		t.Helper()
		got, err := st.Project(ctx, p.Key())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	steps := []struct {
		args    []string
		code    int
		want    string // in stdout+stderr
		trusted bool
		limits  pipeline.Limits
	}{
		{[]string{"limits", "team/app"}, 0, "team/app:latest: the server's default limits", false, pipeline.Limits{}},
		{[]string{"trust", "team/app"}, 0, "team/app:latest is now trusted: its scripts run on the host, with the engine (root-equivalent)", true, pipeline.Limits{}},
		{[]string{"trust", "team/app:latest"}, 0, "team/app:latest was already trusted", true, pipeline.Limits{}},
		{[]string{"limits", "team/app", "--memory", "2GiB", "--pids", "512"}, 0,
			"team/app:latest: 2 GiB of memory, 512 processes; the server's default for the rest (was: the server's default limits)", true, pipeline.Limits{Memory: 2 << 30, PIDs: 512}},
		{[]string{"limits", "team/app", "--cpus", "1.5", "--memory", "512m"}, 0,
			"team/app:latest: 512 MiB of memory, 1.5 CPUs, 512 processes (was: 2 GiB of memory, 512 processes;", true, pipeline.Limits{Memory: 512 << 20, CPUs: 1.5, PIDs: 512}},
		{[]string{"limits", "team/app", "--memory", "lots"}, 2, `invalid value "lots" for flag -memory: "lots" is not a size`, true, pipeline.Limits{Memory: 512 << 20, CPUs: 1.5, PIDs: 512}},
		{[]string{"limits", "team/app", "--cpus", "-1"}, 2, `"-1" is not a number of CPUs`, true, pipeline.Limits{Memory: 512 << 20, CPUs: 1.5, PIDs: 512}},
		{[]string{"limits", "team/app", "--pids", "many"}, 2, `"many" is not a number of processes`, true, pipeline.Limits{Memory: 512 << 20, CPUs: 1.5, PIDs: 512}},
		{[]string{"limits", "team/app", "--memory", "0", "--cpus", "0", "--pids", "0"}, 0, "team/app:latest: the server's default limits (was: 512 MiB", true, pipeline.Limits{}},
		{[]string{"untrust", "team/app"}, 0, "team/app:latest is no longer trusted: its scripts run sandboxed", false, pipeline.Limits{}},
		{[]string{"untrust", "team/app"}, 0, "team/app:latest was not trusted", false, pipeline.Limits{}},
		{[]string{"trust", "team/nope"}, 1, "no project team/nope:latest in " + data, false, pipeline.Limits{}},
		{[]string{"limits", "team/nope", "--memory", "1GiB"}, 1, "no project team/nope:latest in " + data, false, pipeline.Limits{}},
		{[]string{"trust", "Team/App"}, 1, "is not a valid name", false, pipeline.Limits{}},
		{[]string{"trust"}, 2, trustUsage, false, pipeline.Limits{}},
		{[]string{"untrust", "a/b", "c/d"}, 2, untrustUsage, false, pipeline.Limits{}},
		{[]string{"limits"}, 2, limitsUsage, false, pipeline.Limits{}},
	}
	for _, s := range steps {
		args := append([]string{"project"}, s.args...)
		args = append(args, "--data", data)
		code, out, errs := hoist(args...)
		if code != s.code || !strings.Contains(out+errs, s.want) {
			t.Errorf("hoist %q: exit %d, want %d with %q\n%s%s", args, code, s.code, s.want, out, errs)
		}
		if got := stored(); got.Trusted != s.trusted || got.Limits != s.limits {
			t.Errorf("after hoist %q: trusted %v, limits %+v; want %v, %+v", args, got.Trusted, got.Limits, s.trusted, s.limits)
		}
	}
}

// TestLimitFlags: serve refuses a default above its maximum, naming both
// flags, and every limit flag refuses a value that is not one.
func TestLimitFlags(t *testing.T) {
	data := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--data", data, "--limit-memory", "8GiB"}, 1, "--limit-memory 8 GiB is above --max-memory 4 GiB"},
		{[]string{"serve", "--data", data, "--limit-memory", "2g", "--max-memory", "1GiB"}, 1, "--limit-memory 2 GiB is above --max-memory 1 GiB"},
		{[]string{"serve", "--data", data, "--limit-cpus", "3"}, 1, "--limit-cpus 3 is above --max-cpus 2"},
		{[]string{"serve", "--data", data, "--max-pids", "100"}, 1, "--limit-pids 256 is above --max-pids 100"},
		{[]string{"serve", "--data", data, "--limit-memory", "1.5GB"}, 2, `"1.5GB" is not a size`},
		{[]string{"serve", "--data", data, "--max-cpus", "0"}, 2, `"0" is not a number of CPUs`},
		{[]string{"run", "--index", "x", "--limit-pids", "0"}, 2, `"0" is not a number of processes`},
		{[]string{"run", "--index", "x", "--max-pids", "10"}, 2, "flag provided but not defined: -max-pids"},
	} {
		code, out, errs := hoist(tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("hoist %q: exit %d, want %d with %q\n%s%s", tt.args, code, tt.code, tt.want, out, errs)
		}
	}
}

// TestProjectTrustWithoutTag: NS/NAME without a tag names the one project
// of that name whatever its tag (examples/web is examples/web:v1.0.0);
// with several tags, the error lists them.
func TestProjectTrustWithoutTag(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	st, err := openStore(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, key := range []string{"team/web:v1.0.0", "team/multi:1", "team/multi:2"} {
		ref, _ := pipeline.ParseImageRef(key)
		p := pipeline.Project{AppID: ref.Namespace, JobID: ref.Name, Tag: ref.Tag, GitURL: "https://example.com/app.git", GitBranch: "main", TargetFile: "Dockerfile"}
		if err := st.PutProject(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"project", "trust", "team/web", "--data", data}, 0, "team/web:v1.0.0 is now trusted"},
		{[]string{"project", "limits", "team/web", "--data", data}, 0, "team/web:v1.0.0: the server's default limits"},
		{[]string{"project", "trust", "team/multi", "--data", data}, 1, "team/multi has 2 projects in " + data + ", one per tag: team/multi:1, team/multi:2; give one of them"},
		{[]string{"project", "trust", "team/web:latest", "--data", data}, 1, "no project team/web:latest in " + data},
	} {
		code, out, errs := hoist(tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("hoist %q: exit %d, want %d with %q\n%s%s", tt.args, code, tt.code, tt.want, out, errs)
		}
	}
	if p, err := st.Project(ctx, "team/web:v1.0.0"); err != nil || !p.Trusted {
		t.Errorf("team/web:v1.0.0 after hoist project trust team/web: %+v %v", p, err)
	}
}
