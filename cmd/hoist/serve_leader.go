package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
)

// leaderTTLUsage is the help of --leader-ttl.
const leaderTTLUsage = "how long a server's hold on the jobs that run on one server at a time (polls, schedules, re-scans, index reads) " +
	"lasts unrenewed: when it dies, another server sharing the --db takes them over within about this long"

// registerLeaderTTL adds --leader-ttl to fs.
func (f *serveFlags) registerLeaderTTL(fs *flag.FlagSet) {
	fs.DurationVar(&f.leaderTTL, "leader-ttl", sched.DefaultLeaderTTL, leaderTTLUsage)
}

// checkLeaderTTL refuses a --leader-ttl under a second: the lease is
// renewed every third of it, a round trip to the database each time.
func (f *serveFlags) checkLeaderTTL(stderr io.Writer) error {
	if f.leaderTTL < time.Second {
		fmt.Fprintf(stderr, "--leader-ttl %v: want at least 1s, e.g. 30s (a server renews its leader leases every third of it)\n", f.leaderTTL)
		return exitError(2)
	}
	return nil
}

// leader runs the jobs that servers sharing a database run once, not once
// each: each on the server holding its leader lease in the store. With
// SQLite there is one server, which holds them all.
type leader struct {
	store  pipeline.Leader
	holder string
	opts   sched.LeadOptions
}

// newLeader names this process in the leases: its instance (data folder)
// and a random part, so that two servers started on one data folder by
// mistake still run each job once.
func newLeader(st pipeline.Leader, instance string, f *serveFlags, log *slog.Logger) *leader {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &leader{store: st, holder: instance + "-" + hex.EncodeToString(b),
		opts: sched.LeadOptions{TTL: f.leaderTTL, Logger: log}}
}

// run runs job, as name, on one server at a time, until ctx ends.
func (l *leader) run(ctx context.Context, name string, job func(context.Context)) {
	go sched.Lead(ctx, l.store, name, l.holder, l.opts, job)
}
