package pipeline

import (
	"context"
	"fmt"
	"strconv"
)

// TrustStore keeps what only an admin decides about a project: whether it
// is trusted (Project.Trusted) and its own container limits
// (Project.Limits). PutProject keeps both as they are stored, so that a
// re-read index or an edit does not reset them. Safe for concurrent use.
type TrustStore interface {
	// SetTrusted marks the project with key trusted or not; ErrNotFound
	// when there is no such project.
	SetTrusted(ctx context.Context, key string, trusted bool) error
	// SetLimits replaces the project's own limits (zero fields: the
	// server's defaults); ErrNotFound when there is no such project.
	SetLimits(ctx context.Context, key string, l Limits) error
}

// Or returns l with the zero fields taken from d.
func (l Limits) Or(d Limits) Limits {
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	if l.CPUs <= 0 {
		l.CPUs = d.CPUs
	}
	if l.PIDs <= 0 {
		l.PIDs = d.PIDs
	}
	return l
}

// Clamp returns l with each field above max's (when max's is set) lowered
// to it, and one line per lowered field saying so ("memory 8 GiB lowered
// to the server's maximum of 4 GiB").
func (l Limits) Clamp(max Limits) (Limits, []string) {
	var notes []string
	if max.Memory > 0 && l.Memory > max.Memory {
		notes = append(notes, fmt.Sprintf("memory %s lowered to the server's maximum of %s", SizeText(l.Memory), SizeText(max.Memory)))
		l.Memory = max.Memory
	}
	if max.CPUs > 0 && l.CPUs > max.CPUs {
		notes = append(notes, fmt.Sprintf("cpus %s lowered to the server's maximum of %s", cpusText(l.CPUs), cpusText(max.CPUs)))
		l.CPUs = max.CPUs
	}
	if max.PIDs > 0 && l.PIDs > max.PIDs {
		notes = append(notes, fmt.Sprintf("pids %d lowered to the server's maximum of %d", l.PIDs, max.PIDs))
		l.PIDs = max.PIDs
	}
	return l, notes
}

// String is l for people: "1 GiB of memory, 1 CPU, 256 processes"; unset
// fields are left out.
func (l Limits) String() string {
	s := ""
	add := func(part string) {
		if s != "" {
			s += ", "
		}
		s += part
	}
	if l.Memory > 0 {
		add(SizeText(l.Memory) + " of memory")
	}
	if l.CPUs > 0 {
		unit := " CPUs"
		if l.CPUs == 1 {
			unit = " CPU"
		}
		add(cpusText(l.CPUs) + unit)
	}
	if l.PIDs > 0 {
		add(strconv.FormatInt(l.PIDs, 10) + " processes")
	}
	if s == "" {
		return "no limits of its own"
	}
	return s
}

// cpusText is a number of CPUs without needless digits: "2", "0.5".
func cpusText(c float64) string { return strconv.FormatFloat(c, 'f', -1, 64) }

// SizeText is n bytes for people: "1 GiB", "512 MiB", "1.5 GiB".
func SizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30 && n%(1<<20) == 0 && (n>>20)%512 == 0:
		return fmt.Sprintf("%s GiB", strconv.FormatFloat(float64(n)/(1<<30), 'f', -1, 64))
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

type limitsKey struct{}

// WithLimits returns ctx carrying l, the limits of the containers a build
// starts (its project's, within the server's maximum): the engine adapter
// confines what it starts for ctx with them, taking its own defaults for
// l's zero fields.
func WithLimits(ctx context.Context, l Limits) context.Context {
	return context.WithValue(ctx, limitsKey{}, l)
}

// LimitsOf returns the Limits ctx carries (zero when none).
func LimitsOf(ctx context.Context) Limits {
	l, _ := ctx.Value(limitsKey{}).(Limits)
	return l
}
