package index

import "testing"

func TestScheduleKey(t *testing.T) {
	res, err := Load("testdata/malformed/schedule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range res.Projects {
		got[p.Key()] = p.Schedule
	}
	want := map[string]string{"schedule/weekly:latest": "@weekly", "schedule/cron:latest": "0 3 * * 1"}
	if len(got) != len(want) {
		t.Fatalf("projects %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: Schedule = %q, want %q", k, got[k], v)
		}
	}
}
