package pipeline

import (
	"context"
	"time"
)

// Leader keeps named leader leases, so that a job every server would
// otherwise run (polling, schedules, re-scans, index reconciles) runs on
// one server at a time among those sharing the store. A lease names its
// job (name) and the process that holds it (holder, unique per process);
// it lasts ttl from when it was taken or last renewed, measured by the
// store's clock, so that servers whose clocks differ agree on it. A
// holder that stops renewing (it was killed) loses it once ttl has
// passed, and another may take it then. Safe for concurrent use by
// several processes sharing the store.
type Leader interface {
	// TryLead takes the lease name for holder, or renews it when holder
	// already has it, for ttl from now; it reports whether holder holds
	// it now. It fails (false, nil) while another holder's lease lasts.
	TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Resign gives up the lease name if holder has it, so that another
	// may take it at once; it is not an error when holder does not.
	Resign(ctx context.Context, name, holder string) error
}
