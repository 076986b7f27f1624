package main

import (
	"io"
	"testing"
)

// TestServeTestWorkersFlag: --test-workers defaults to 4 × --workers.
func TestServeTestWorkersFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--workers", "2"}, 8},
		{[]string{"--workers", "2", "--test-workers", "3"}, 3},
		{[]string{"--workers", "0"}, 4},
	} {
		f, err := parseServeFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("parseServeFlags(%q): %v", tc.args, err)
		}
		if got := testSlots(f.testWorkers, f.workers); got != tc.want {
			t.Errorf("parseServeFlags(%q): %d test slots, want %d", tc.args, got, tc.want)
		}
	}
}
