package pipeline

import (
	"context"
	"slices"
	"testing"
)

func TestLimitsOrClampString(t *testing.T) {
	def := Limits{Memory: 1 << 30, CPUs: 1, PIDs: 256}
	max := Limits{Memory: 4 << 30, CPUs: 2, PIDs: 1024}
	for _, tt := range []struct {
		own   Limits
		want  Limits
		notes []string
		text  string
	}{
		{Limits{}, def, nil, "1 GiB of memory, 1 CPU, 256 processes"},
		{Limits{Memory: 2 << 30, PIDs: 512}, Limits{Memory: 2 << 30, CPUs: 1, PIDs: 512}, nil, "2 GiB of memory, 1 CPU, 512 processes"},
		{Limits{Memory: 8 << 30, CPUs: 1.5, PIDs: 4096}, Limits{Memory: 4 << 30, CPUs: 1.5, PIDs: 1024},
			[]string{"memory 8 GiB lowered to the server's maximum of 4 GiB", "pids 4096 lowered to the server's maximum of 1024"},
			"4 GiB of memory, 1.5 CPUs, 1024 processes"},
		{Limits{Memory: 512 << 20, CPUs: 3}, Limits{Memory: 512 << 20, CPUs: 2, PIDs: 256},
			[]string{"cpus 3 lowered to the server's maximum of 2"}, "512 MiB of memory, 2 CPUs, 256 processes"},
	} {
		got, notes := tt.own.Or(def).Clamp(max)
		if got != tt.want || !slices.Equal(notes, tt.notes) || got.String() != tt.text {
			t.Errorf("%+v: %#v %q %q; want %#v %q %q", tt.own, got, notes, got.String(), tt.want, tt.notes, tt.text)
		}
	}
	if got, notes := (Limits{Memory: 8 << 30}).Clamp(Limits{}); got.Memory != 8<<30 || notes != nil {
		t.Errorf("no maximum: %+v %q", got, notes)
	}
	for n, want := range map[int64]string{1 << 30: "1 GiB", 3 << 29: "1.5 GiB", 640 << 20: "640 MiB", 2048: "2 KiB", 1000: "1000 bytes"} {
		if got := SizeText(n); got != want {
			t.Errorf("SizeText(%d) = %q, want %q", n, got, want)
		}
	}
	ctx := WithLimits(context.Background(), Limits{PIDs: 7})
	if LimitsOf(ctx) != (Limits{PIDs: 7}) || LimitsOf(context.Background()) != (Limits{}) {
		t.Errorf("LimitsOf: %+v", LimitsOf(ctx))
	}
}
