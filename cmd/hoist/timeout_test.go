package main

import (
	"errors"
	"io"
	"strings"
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

func TestServeLeaseFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{[]string{"--lease", "2m"}, 2 * time.Minute},
	} {
		f, err := parseServeFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("parseServeFlags(%q): %v", tc.args, err)
		}
		if f.lease != tc.want {
			t.Errorf("parseServeFlags(%q): lease %v, want %v", tc.args, f.lease, tc.want)
		}
	}
	var stderr strings.Builder
	_, err := parseServeFlags([]string{"--lease", "100ms"}, &stderr)
	var code exitError
	if !errors.As(err, &code) || code != 2 || !strings.Contains(stderr.String(), "--lease 100ms: want at least 1s") {
		t.Errorf("--lease 100ms: %v, %q; want exit 2 saying it is too short", err, stderr.String())
	}
}
