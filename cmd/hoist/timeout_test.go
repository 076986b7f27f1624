package main

import (
	"io"
	"testing"
	"time"
)

func TestServeCheckoutTimeoutFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 10 * time.Minute},
		{[]string{"--checkout-timeout", "10s"}, 10 * time.Second},
	} {
		f, err := parseServeFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("parseServeFlags(%q): %v", tc.args, err)
		}
		if f.checkout != tc.want {
			t.Errorf("parseServeFlags(%q): checkout timeout %v, want %v", tc.args, f.checkout, tc.want)
		}
	}
}
