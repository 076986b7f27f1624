package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// newLogEnv has build 1 of ns/web running, in its build stage.
func newLogEnv(t *testing.T) (*apiEnv, pipeline.Stage) {
	e := newWriteEnv(t)
	st := pipeline.Stage{BuildID: 1, Name: pipeline.StageBuild, Status: pipeline.StatusRunning, Started: time.Now()}
	if err := e.store.PutStage(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return e, st
}

func (e *apiEnv) appendLog(s string) {
	e.t.Helper()
	if err := e.store.AppendLog(context.Background(), 1, pipeline.StageBuild, []byte(s)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *apiEnv) finishStage(st pipeline.Stage) {
	e.t.Helper()
	st.Status, st.Finished = pipeline.StatusSucceeded, time.Now()
	if err := e.store.PutStage(context.Background(), st); err != nil {
		e.t.Fatal(err)
	}
}

func TestAPIStageLog(t *testing.T) {
	e, _ := newLogEnv(t)
	e.appendLog("step 1\nstep 2\n")
	resp := e.send("GET", "/api/v1/builds/1/stages/build/log", "", anon)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "step 1\nstep 2\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("log = %d %q %v", resp.StatusCode, b, resp.Header)
	}
	if status, b := e.do("GET", "/api/v1/builds/1/stages/build/log?offset=7", "", anon); status != 200 || string(b) != "step 2\n" {
		t.Errorf("log from 7 = %d %q", status, b)
	}
	if status, b := e.do("GET", "/api/v1/builds/1/stages/test/log", "", anon); status != 200 || len(b) != 0 {
		t.Errorf("log of a stage not run = %d %q", status, b)
	}
	eb := e.apiErr("GET", "/api/v1/builds/1/stages/sign/log", "", anon, http.StatusNotFound)
	if !strings.Contains(eb.Error.Message, "checkout") {
		t.Errorf("unknown stage: %+v", eb)
	}
	e.apiErr("GET", "/api/v1/builds/99/stages/build/log", "", anon, http.StatusNotFound)
	e.apiErr("GET", "/api/v1/builds/1/stages/build/log?follow=maybe", "", anon, http.StatusBadRequest)
}

func TestAPIFollowLogStreams(t *testing.T) {
	e, st := newLogEnv(t)
	e.appendLog("line 1\n")
	resp := e.send("GET", "/api/v1/builds/1/stages/build/log?follow=true", "", anon)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("follow = %d", resp.StatusCode)
	}
	lines := bufio.NewReader(resp.Body)
	readLine := func(want string) {
		t.Helper()
		got, err := lines.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	readLine("line 1\n")
	for i := 2; i <= 4; i++ {
		// Each line arrives while the request is still open.
		line := "line " + string(rune('0'+i)) + "\n"
		e.appendLog(line)
		readLine(line)
	}
	e.appendLog("last line\n")
	e.finishStage(st)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "last line\n" {
		t.Errorf("after the stage ended: %q, %v", rest, err)
	}
}

func TestFollowLog(t *testing.T) {
	e, st := newLogEnv(t)
	e.appendLog(strings.Repeat("x", 3*followChunk+5))
	e.finishStage(st)
	var chunks, total int
	err := e.server.followLog(context.Background(), 1, pipeline.StageBuild, 5, func(p []byte) error {
		if len(p) > followChunk {
			t.Errorf("chunk of %d bytes", len(p))
		}
		chunks, total = chunks+1, total+len(p)
		return nil
	})
	if err != nil || total != 3*followChunk || chunks < 3 {
		t.Errorf("followLog of a finished stage: %v, %d bytes in %d chunks", err, total, chunks)
	}

	// A stage that never ran in a finished build ends at once.
	b, _ := e.store.Build(context.Background(), 1)
	b.Status, b.Finished = pipeline.StatusFailed, time.Now()
	if err := e.store.UpdateBuild(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := e.server.followLog(context.Background(), 1, pipeline.StageDeliver, 0, func([]byte) error { return nil }); err != nil {
		t.Errorf("stage that never ran: %v", err)
	}

	// A running stage: ctx ends the follow; emit's error too.
	e2, _ := newLogEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e2.server.followLog(ctx, 1, pipeline.StageBuild, 0, func([]byte) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("followLog after ctx ended = %v", err)
	}
	e2.appendLog("x")
	stop := errors.New("stop")
	if err := e2.server.followLog(context.Background(), 1, pipeline.StageBuild, 0, func([]byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("followLog with failing emit = %v", err)
	}
	if err := e2.server.followLog(context.Background(), 9, pipeline.StageBuild, 0, nil); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("followLog of no build = %v", err)
	}
}
