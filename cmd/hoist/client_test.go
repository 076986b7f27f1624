package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
	"github.com/hoistci/hoist/internal/server"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// stagedExec is the seam where builds would run: it writes a line of log
// per stage, slowly enough for a follower to see them come, and succeeds a
// moment after its last stage, as the runner does once it has removed what
// the build left (logs -f must wait for that, not report "running").
type stagedExec struct{ st *sqlite.Store }

func (e stagedExec) Execute(ctx context.Context, p pipeline.Project, b pipeline.Build, _ pipeline.BuildInputs) (pipeline.Build, error) {
	for _, name := range pipeline.Stages {
		s := pipeline.Stage{BuildID: b.ID, Name: name, Status: pipeline.StatusRunning, Started: time.Now()}
		if err := e.st.PutStage(ctx, s); err != nil {
			return b, err
		}
		time.Sleep(20 * time.Millisecond)
		if err := e.st.AppendLog(ctx, b.ID, name, fmt.Appendf(nil, "hello from %s of %s\n", name, p.Key())); err != nil {
			return b, err
		}
		s.Status, s.Finished = pipeline.StatusSucceeded, time.Now()
		if err := e.st.PutStage(ctx, s); err != nil {
			return b, err
		}
	}
	time.Sleep(300 * time.Millisecond)
	b.Status, b.Finished = pipeline.StatusSucceeded, time.Now()
	return b, e.st.UpdateBuild(ctx, b)
}

// TestClientCommands runs project add, build and logs against the real
// server, store and dispatcher, with builds faked at the executor.
func TestClientCommands(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := sched.NewDispatcher(st, stagedExec{st}, sched.DispatcherOptions{Workers: 2, Poll: 20 * time.Millisecond})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- d.Run(rctx) }()
	defer func() { stop(); <-done }()
	srv := httptest.NewServer(server.New(server.Deps{Store: st, Queue: d}, server.Options{PublicRead: true}))
	defer srv.Close()

	t.Setenv("HOIST_SERVER", "")
	t.Setenv("HOIST_TOKEN", "")
	if code, _, errs := hoist("build", "--server", srv.URL, "demo/app"); code != 1 || !strings.Contains(errs, "HOIST_TOKEN") {
		t.Errorf("build without a token: exit %d %s", code, errs)
	}
	if code, _, errs := hoistStdin("correct horse\n", "user", "add", "--data", data, "alice"); code != 0 {
		t.Fatal(errs)
	}
	_, token, errs := hoist("token", "create", "--data", data, "alice")
	t.Setenv("HOIST_TOKEN", strings.TrimSpace(token))

	code, out, errs := hoist("project", "add", "--server", srv.URL, "demo/app", "https://example.com/app.git", "--tag", "v1", "--branch", "main", "--depends-on", "demo/base:1")
	if code != 0 || !strings.Contains(out, "registered demo/app:v1: "+srv.URL+"/p/demo/app:v1") || !strings.Contains(out, "build #1 ") {
		t.Fatalf("project add: exit %d\n%s%s", code, out, errs)
	}
	p, err := st.Project(ctx, "demo/app:v1")
	if err != nil || p.GitBranch != "main" || len(p.DependsOn) != 1 || p.DependsOn[0].String() != "demo/base:1" {
		t.Errorf("stored project %+v: %v", p, err)
	}
	if code, _, errs := hoist("project", "add", "--server", srv.URL, "Demo/App", "https://example.com/app.git"); code != 1 || !strings.Contains(errs, "name") {
		t.Errorf("bad name: exit %d %s", code, errs)
	}

	code, out, errs = hoist("build", "--server", srv.URL, "demo/app:v1")
	if code != 0 || !strings.Contains(out, "demo/app:v1 #") || !strings.Contains(out, srv.URL+"/p/demo/app:v1/builds/") {
		t.Fatalf("build: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := hoist("build", "--server", srv.URL, "demo/nothing"); code != 1 || !strings.Contains(errs, "demo/nothing:latest") {
		t.Errorf("build of no project: exit %d %s", code, errs)
	}

	code, out, errs = hoist("logs", "-f", "--server", srv.URL, "demo/app:v1")
	if code != 0 {
		t.Fatalf("logs -f: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"=== checkout\nhello from checkout of demo/app:v1\n=== checkout: succeeded", "hello from deliver", ": succeeded\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs -f lacks %q:\n%s", want, out)
		}
	}
	t.Setenv("HOIST_SERVER", srv.URL)
	code, out, errs = hoist("logs", "--stage", "build", "demo/app:v1#1")
	if code != 0 || !strings.Contains(out, "demo/app:v1 #1: succeeded") || !strings.Contains(out, "hello from build") || strings.Contains(out, "hello from test") {
		t.Errorf("logs of #1 with HOIST_SERVER: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := hoist("logs", "demo/app:v1#9"); code != 1 || !strings.Contains(errs, "no build #9") {
		t.Errorf("logs of #9: exit %d %s", code, errs)
	}
}
