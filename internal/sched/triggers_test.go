package sched

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// openTriggerStore opens a real, empty SQLite store holding projects.
func openTriggerStore(t *testing.T, projects ...pipeline.Project) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, p := range projects {
		if err := st.PutProject(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func tproj(name, url, branch string) pipeline.Project {
	return pipeline.Project{AppID: "t", JobID: name, Tag: "latest", GitURL: url, GitBranch: branch, TargetFile: "Dockerfile"}
}

// builds lists the builds of project, newest first.
func builds(t *testing.T, st *sqlite.Store, project string) []pipeline.Build {
	t.Helper()
	bs, err := st.Builds(t.Context(), project, 0)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// finish marks the build with id succeeded.
func finish(t *testing.T, st *sqlite.Store, id int64) {
	t.Helper()
	b, err := st.Build(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	b.Status, b.Finished = pipeline.StatusSucceeded, time.Now()
	if err := st.UpdateBuild(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}

func TestPushTriggersEverySpellingOnceAndOnlyTrackedBranches(t *testing.T) {
	st := openTriggerStore(t,
		tproj("a", "https://GitHub.com/org/repo.git", "main"),
		tproj("b", "git@github.com:org/repo", "main"),
		tproj("c", "https://github.com/org/repo", "dev"),
		tproj("d", "https://github.com/org/other", "main"))
	woken := 0
	ps := NewPushes(st, func() { woken++ }, nil)
	const sha = "0123456789abcdef0123456789abcdef01234567"
	push := pipeline.Push{Repo: "https://github.com/org/repo/", Branch: "refs/heads/main", Commit: sha, Via: "github"}
	got, err := ps.Push(t.Context(), push)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, b := range got {
		keys = append(keys, b.Project)
		if b.Outcome != pipeline.EnqueueQueued || b.Build.Cause != "git push 0123456 to main" || b.Build.Commit != sha {
			t.Errorf("push to %s: %+v", b.Project, b)
		}
	}
	if want := []string{"t/a:latest", "t/b:latest"}; !slices.Equal(keys, want) || woken != 1 {
		t.Fatalf("push triggered %v (woke %d), want %v (woke 1)", keys, woken, want)
	}
	again, err := ps.Push(t.Context(), push) // a redelivery
	if err != nil || len(again) != 2 || again[0].Outcome != pipeline.EnqueueDuplicate {
		t.Fatalf("redelivery: %+v, %v; want 2 duplicates", again, err)
	}
	if n := len(builds(t, st, "t/a:latest")); n != 1 {
		t.Errorf("after a redelivery t/a has %d builds, want 1", n)
	}
	none, err := ps.Push(t.Context(), pipeline.Push{Repo: push.Repo, Branch: "feature", Commit: sha, Via: "github"})
	if err != nil || len(none) != 0 || len(builds(t, st, "t/c:latest")) != 0 {
		t.Errorf("push to an untracked branch: %+v, %v", none, err)
	}
	if !ps.WebhookSeen(t.Context(), "git@github.com:org/repo.git", time.Minute) || ps.WebhookSeen(t.Context(), "https://github.com/org/other", time.Minute) {
		t.Error("WebhookSeen does not match the repositories webhooks reached")
	}
}

func TestPollPicksUpANewCommitOnce(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	st := openTriggerStore(t, tproj("a", url, "main"), tproj("b", url+"/", "main"),
		tproj("broken", url+"-missing", "main"), tproj("other", url, "dev"))
	ps := NewPushes(st, nil, nil)
	p := NewPoller(st, source.New(), ps, PollOptions{Interval: time.Hour})

	if n := p.PollOnce(t.Context()); n != 2 {
		t.Fatalf("first poll queued %d builds, want 2 (a and b; broken and dev are logged)", n)
	}
	first := builds(t, st, "t/a:latest")[0]
	finish(t, st, first.ID)
	if n := p.PollOnce(t.Context()); n != 0 {
		t.Fatalf("a poll with nothing new queued %d builds", n)
	}
	sha := testenv.Commit(t, repo, map[string]string{"x": "1"}, "second")
	if n := p.PollOnce(t.Context()); n != 1 { // b's first build is still queued: it joins
		t.Fatalf("poll after a commit queued %d builds, want 1", n)
	}
	if n := p.PollOnce(t.Context()); n != 0 {
		t.Fatalf("a second poll of the same commit queued %d builds", n)
	}
	bs := builds(t, st, "t/a:latest")
	if len(bs) != 2 || bs[0].Commit != sha || bs[0].Cause != "poll found "+sha[:7]+" on main" {
		t.Fatalf("builds of t/a: %+v; want a second one at %s", bs, sha)
	}

	testenv.Commit(t, repo, map[string]string{"x": "2"}, "third")
	if _, err := ps.Push(t.Context(), pipeline.Push{Repo: url, Branch: "main", Commit: sha, Via: "gitea"}); err != nil {
		t.Fatal(err)
	}
	if n := p.PollOnce(t.Context()); n != 0 {
		t.Errorf("poll of a repository a webhook just reached queued %d builds, want 0", n)
	}
}

// TestPollLeavesACheckingOutBuildAlone polls while a build of the project
// runs: during its checkout nothing is queued (it may be getting that very
// commit), and once it has recorded its commit, that commit is a duplicate.
func TestPollLeavesACheckingOutBuildAlone(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	head := testenv.Git(t, repo, "rev-parse", "HEAD")
	url := testenv.GitHTTPServer(t, filepath.Dir(repo)) + "/repo"
	st := openTriggerStore(t, tproj("a", url, "main"))
	p := NewPoller(st, source.New(), NewPushes(st, nil, nil), PollOptions{Interval: time.Hour})
	ctx := t.Context()
	if _, _, err := st.Enqueue(ctx, "t/a:latest", "manual: ann", time.Now()); err != nil {
		t.Fatal(err)
	}
	running, err := st.Claim(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkout := pipeline.Stage{BuildID: running.ID, Name: pipeline.StageCheckout, Status: pipeline.StatusRunning, Started: time.Now()}
	if err := st.PutStage(ctx, checkout); err != nil {
		t.Fatal(err)
	}
	if n := p.PollOnce(ctx); n != 0 || len(builds(t, st, "t/a:latest")) != 1 {
		t.Fatalf("a poll during the running build's checkout queued %d builds, want 0", n)
	}
	running.Commit = head // as the runner records it when the checkout ends
	checkout.Status, checkout.Finished = pipeline.StatusSucceeded, time.Now()
	if err := st.UpdateBuild(ctx, running); err != nil {
		t.Fatal(err)
	}
	if err := st.PutStage(ctx, checkout); err != nil {
		t.Fatal(err)
	}
	if n := p.PollOnce(ctx); n != 0 {
		t.Fatalf("a poll of the commit being built queued %d builds, want 0", n)
	}
	next := testenv.Commit(t, repo, map[string]string{"x": "1"}, "next")
	if n := p.PollOnce(ctx); n != 1 {
		t.Fatalf("a poll of a new commit during a build queued %d builds, want 1", n)
	}
	if bs := builds(t, st, "t/a:latest"); len(bs) != 2 || bs[0].Commit != next || bs[0].Cause != "poll found "+next[:7]+" on main" {
		t.Errorf("builds %+v, want a second one at %s, caused by the poll", bs, next)
	}
}

func TestPollerRunStopsAndZeroIntervalDisables(t *testing.T) {
	st := openTriggerStore(t)
	p := NewPoller(st, source.New(), NewPushes(st, nil, nil), PollOptions{})
	p.Run(t.Context()) // returns at once
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		NewPoller(st, source.New(), NewPushes(st, nil, nil), PollOptions{Interval: time.Hour}).Run(ctx)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for range 100 {
		if d := jitter(time.Minute); d < 54*time.Second || d > 66*time.Second {
			t.Fatalf("jitter(1m) = %v, want within ±10%%", d)
		}
	}
}
