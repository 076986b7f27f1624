package sched

import (
	"slices"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestScheduleFires(t *testing.T) {
	weekly := tproj("weekly", "u", "main")
	weekly.Schedule = "0 3 * * 1"
	broken := tproj("broken", "u", "main")
	broken.Schedule = "every tuesday"
	st := openTriggerStore(t, tproj("plain", "u", "main"), weekly, broken)
	d := NewDispatcher(st, nil, DispatcherOptions{})
	s, err := NewScheduler(st, d, ScheduleOptions{Global: "@weekly"})
	if err != nil {
		t.Fatal(err)
	}
	specs := s.Sync(t.Context())
	slices.Sort(specs)
	if want := []string{"0 3 * * 1", "@weekly"}; !slices.Equal(specs, want) {
		t.Fatalf("scheduled %q, want %q (the invalid one logged)", specs, want)
	}

	if got := s.Fire(t.Context(), "0 3 * * 1"); !slices.Equal(got, []string{"t/weekly:latest"}) {
		t.Errorf("the project's schedule triggered %v", got)
	}
	if b := builds(t, st, "t/weekly:latest"); len(b) != 1 || b[0].Cause != "schedule 0 3 * * 1" {
		t.Errorf("builds of t/weekly: %+v", b)
	}
	if got := s.Fire(t.Context(), "@weekly"); len(got) != 3 {
		t.Errorf("the global schedule triggered %v, want every project", got)
	}
	if b := builds(t, st, "t/plain:latest"); len(b) != 1 || b[0].Cause != "schedule weekly" {
		t.Errorf("builds of t/plain: %+v", b)
	}

	weekly.Schedule = ""
	if err := st.PutProject(t.Context(), weekly); err != nil {
		t.Fatal(err)
	}
	if specs := s.Sync(t.Context()); !slices.Equal(specs, []string{"@weekly"}) {
		t.Errorf("after the project dropped its schedule: %q", specs)
	}
}

func TestScheduleRunFiresOnTime(t *testing.T) {
	st := openTriggerStore(t, tproj("a", "u", "main"))
	s, err := NewScheduler(st, NewDispatcher(st, nil, DispatcherOptions{}), ScheduleOptions{Global: "@every 1s"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(t.Context()); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(builds(t, st, "t/a:latest")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the schedule did not fire within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b := builds(t, st, "t/a:latest")[0]; b.Cause != "schedule @every 1s" || b.Status != pipeline.StatusQueued {
		t.Errorf("scheduled build %+v", b)
	}
}

func TestParseSchedule(t *testing.T) {
	for _, ok := range []string{"@weekly", "@daily", "0 3 * * 1", "*/15 * * * *", "@every 12h"} {
		if err := ParseSchedule(ok); err != nil {
			t.Errorf("ParseSchedule(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"weekly", "0 3 * *", "61 * * * *", "@fortnightly"} {
		if err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted it", bad)
		}
	}
	if _, err := NewScheduler(nil, nil, ScheduleOptions{Global: "nope"}); err == nil {
		t.Error("NewScheduler accepted an invalid global schedule")
	}
}
