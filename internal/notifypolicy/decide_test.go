package notifypolicy

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestDecide(t *testing.T) {
	const (
		unknown = pipeline.HealthUnknown
		failing = pipeline.HealthFailing
		ok      = pipeline.HealthOK
	)
	tests := []struct {
		name   string
		prev   pipeline.NotifyHealth
		status pipeline.Status
		optIn  bool
		want   Decision
	}{
		{"first build fails", unknown, pipeline.StatusFailed, false, Decision{failing, pipeline.NotifyFailed}},
		{"healthy project breaks", ok, pipeline.StatusFailed, false, Decision{failing, pipeline.NotifyFailed}},
		{"broken project fails again: coalesced", failing, pipeline.StatusFailed, false, Decision{failing, ""}},
		{"broken project fails again, opted in: still coalesced", failing, pipeline.StatusFailed, true, Decision{failing, ""}},
		{"broken project recovers", failing, pipeline.StatusSucceeded, false, Decision{ok, pipeline.NotifyRecovered}},
		{"broken project recovers, opted in: one recovery", failing, pipeline.StatusSucceeded, true, Decision{ok, pipeline.NotifyRecovered}},
		{"success without opt-in", ok, pipeline.StatusSucceeded, false, Decision{ok, ""}},
		{"first success without opt-in", unknown, pipeline.StatusSucceeded, false, Decision{ok, ""}},
		{"success opted in", ok, pipeline.StatusSucceeded, true, Decision{ok, pipeline.NotifySucceeded}},
		{"first success opted in", unknown, pipeline.StatusSucceeded, true, Decision{ok, pipeline.NotifySucceeded}},
		{"skip while broken is no recovery", failing, pipeline.StatusSkipped, true, Decision{}},
		{"skip while healthy", ok, pipeline.StatusSkipped, true, Decision{}},
		{"cancelled while broken", failing, pipeline.StatusCancelled, false, Decision{}},
		{"cancelled while healthy, opted in", ok, pipeline.StatusCancelled, true, Decision{}},
		{"not finished", ok, pipeline.StatusRunning, true, Decision{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.prev, pipeline.Build{Status: tc.status, Reason: "parent a/b:latest failed"}, tc.optIn)
			if got != tc.want {
				t.Errorf("Decide(%q, %s, optIn %v) = %+v, want %+v", tc.prev, tc.status, tc.optIn, got, tc.want)
			}
		})
	}
}
