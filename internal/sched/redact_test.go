package sched

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestPollLogsHideCredentials: what the poller logs of a repository (a
// push it found, a head it could not read) never holds its credentials.
func TestPollLogsHideCredentials(t *testing.T) {
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	url := strings.Replace(testenv.GitHTTPServer(t, filepath.Dir(repo))+"/repo", "://", "://bot:s3cret@", 1)
	st := openTriggerStore(t, tproj("a", url, "main"), tproj("down", "http://bot:s3cret@127.0.0.1:1/x.git", "main"))
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := NewPoller(st, source.New(), NewPushes(st, nil, log), PollOptions{Interval: time.Hour, Logger: log})
	if n := p.PollOnce(t.Context()); n != 1 {
		t.Fatalf("poll queued %d builds, want 1\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "s3cret") || strings.Count(logs.String(), "bot:***@") < 2 {
		t.Errorf("the poller's logs show credentials or not the repositories:\n%s", logs.String())
	}
}
