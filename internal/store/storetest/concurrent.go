package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// concurrentTests are the cases where several callers, as several servers
// sharing one database would, race for the same project. Run runs them
// with the others.
var concurrentTests = []struct {
	name string
	f    func(t *testing.T, s pipeline.Store)
}{
	{"Queue/ConcurrentEnqueue", testEnqueueConcurrent},
	{"Queue/ConcurrentEnqueueCommit", testEnqueueCommitConcurrent},
	{"Queue/ConcurrentClaimOneProject", testClaimConcurrentOneProject},
}

// racers is how many goroutines each case starts at once, and rounds how
// many times (a race is not lost every time).
const racers, rounds = 8, 5

// race runs f in racers goroutines started together and waits for them.
func race(f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// testEnqueueConcurrent queues one project from many callers at once: one
// build is queued, every other caller joins it.
func testEnqueueConcurrent(t *testing.T, s pipeline.Store) {
	for r := range rounds {
		enqueueRace(t, s, fmt.Sprintf("a/x%d:latest", r))
	}
	active, err := s.Active(ctx(t))
	must(t, "Active", err)
	if len(active) != rounds {
		t.Errorf("Active after concurrent Enqueue of %d projects = %d builds, want %d", rounds, len(active), rounds)
	}
}

// enqueueRace queues project from racers callers at once.
func enqueueRace(t *testing.T, s pipeline.Store, project string) {
	var mu sync.Mutex
	queued, joined := map[int64]bool{}, 0
	race(func(int) {
		b, j, err := s.Enqueue(ctx(t), project, "push", at(1, 0))
		if err != nil {
			t.Errorf("Enqueue: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		queued[b.ID] = true
		if j {
			joined++
		}
	})
	if len(queued) != 1 || joined != racers-1 {
		t.Errorf("%d concurrent Enqueue of %s: builds %v, %d joined; want one build, %d joined", racers, project, queued, joined, racers-1)
	}
}

// testEnqueueCommitConcurrent delivers one push many times at once, as a
// webhook and a poll arriving together do: one build is queued.
func testEnqueueCommitConcurrent(t *testing.T, s pipeline.Store) {
	for r := range rounds {
		enqueueCommitRace(t, s, fmt.Sprintf("a/x%d:latest", r))
	}
}

// enqueueCommitRace queues project at shaA from racers callers at once.
func enqueueCommitRace(t *testing.T, s pipeline.Store, project string) {
	var mu sync.Mutex
	outcomes := map[pipeline.EnqueueOutcome]int{}
	ids := map[int64]bool{}
	race(func(int) {
		b, out, err := s.EnqueueCommit(ctx(t), project, shaA, "", "push", at(1, 0))
		if err != nil {
			t.Errorf("EnqueueCommit: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		outcomes[out]++
		ids[b.ID] = true
	})
	want := map[pipeline.EnqueueOutcome]int{pipeline.EnqueueQueued: 1, pipeline.EnqueueDuplicate: racers - 1}
	if d := diff(want, outcomes); d != "" || len(ids) != 1 {
		t.Errorf("%d concurrent EnqueueCommit of one commit of %s: builds %v (-want +got outcomes):\n%s", racers, project, ids, d)
	}
}

// testClaimConcurrentOneProject claims from many callers at once while
// each project has several queued builds: a project runs one build at a
// time, so one build of each is claimed.
func testClaimConcurrentOneProject(t *testing.T, s pipeline.Store) {
	want := map[string]int{}
	for r := range rounds {
		p := fmt.Sprintf("a/x%d:latest", r)
		for range 3 {
			create(t, s, p)
		}
		want[p] = 1
	}
	var mu sync.Mutex
	var claimed []pipeline.Build
	race(func(int) {
		for {
			b, err := s.Claim(ctx(t), at(1, 0))
			if errors.Is(err, pipeline.ErrNotFound) {
				return
			}
			if err != nil {
				t.Errorf("Claim: %v", err)
				return
			}
			mu.Lock()
			claimed = append(claimed, b)
			mu.Unlock()
		}
	})
	perProject := map[string]int{}
	for _, b := range claimed {
		perProject[b.Project]++
	}
	if d := diff(want, perProject); d != "" {
		t.Errorf("builds claimed per project by %d concurrent claimers (-want +got):\n%s", racers, d)
	}
}
