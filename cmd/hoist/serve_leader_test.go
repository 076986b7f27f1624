package main

import (
	"io"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/sched"
)

func TestLeaderTTLFlag(t *testing.T) {
	f, err := parseServeFlags(nil, io.Discard)
	if err != nil || f.leaderTTL != sched.DefaultLeaderTTL {
		t.Fatalf("no --leader-ttl: %v; want %v", err, sched.DefaultLeaderTTL)
	}
	if f, err := parseServeFlags([]string{"--leader-ttl", "3s"}, io.Discard); err != nil || f.leaderTTL != 3*time.Second {
		t.Errorf("--leader-ttl 3s: %v", err)
	}
	for _, bad := range []string{"0", "-5s", "100ms"} {
		if _, err := parseServeFlags([]string{"--leader-ttl", bad}, io.Discard); err != exitError(2) {
			t.Errorf("--leader-ttl %s: %v, want exit status 2", bad, err)
		}
	}
}
