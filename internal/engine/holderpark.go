package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// A process that ends (a `hoist run`) would take its holders with it, and
// the next one would pay for new ones: two starts of dockerd's binary per
// namespace, and, before its first holder is ready, containers with
// namespaces of their own. So Close parks the idle holders whose namespace
// is as new, up to holdersParked, for the next process of the same
// instance: it renames a parked one "hoist-netns-idle-<unix time>-<rand>",
// and the next engine's first container of that instance adopts it (a
// rename to its own name, which only one process can win, since the old
// name is then gone), checks it as it checks a holder given back, and
// joins it.
//
// A holder nobody keeps ends itself: its shell counts ticks of holderTick
// and exits after holderTicks of them, unless a SIGUSR2 set the count back
// to 0. Its process sends one to each of its holders, idle or joined,
// every holderRenew, and an adopter sends one as it adopts. A holder is
// removed when it exits (AutoRemove). So a parked holder nobody adopts, or
// the holders of a process that was killed, are gone within
// holderTicks×holderTick. Only a holder parked less than adoptWithin ago
// is adopted, well before it can end; the sweep removes a parked holder
// that is stopped or older than parkedGone.
//
// The name carries the owner's mark (ownedName) rather than a label, since
// an adopted holder changes owner and labels cannot change.

const (
	holderPrefix  = "hoist-netns-"
	parkedPrefix  = holderPrefix + "idle-"
	holdersParked = 4
	holderTick    = 30 * time.Second
	holderTicks   = 16 // 8 minutes
	holderRenew   = time.Minute
	adoptWithin   = 4 * time.Minute // it ends 6 minutes after parking at the earliest
	parkedGone    = holderTick * (holderTicks + 2)
)

// holderCmd is a holder's command: it sleeps, and ends itself when nobody
// keeps it (see above).
var holderCmd = countdown(holderTick, holderTicks)

// countdown returns the command of a holder that ends ticks ticks after it
// started or got its last SIGUSR2. A trapped signal waits for the sleep
// that runs.
func countdown(tick time.Duration, ticks int) []string {
	return []string{"sh", "-c", fmt.Sprintf(
		`n=0; trap n=0 USR2; while [ $n -lt %d ]; do sleep %d; n=$((n+1)); done`,
		ticks, int(tick/time.Second))}
}

// ownedName returns a name for a holder of this process: its mark with
// dots for colons and a random suffix; "" (the engine picks one) when this
// process has no mark.
func ownedName() string {
	m := ownMark()
	if m == "" {
		return ""
	}
	return holderPrefix + strings.ReplaceAll(m, ":", ".") + "-" + randomHex(4)
}

// parkedName returns the name of a holder parked at t.
func parkedName(t time.Time) string {
	return parkedPrefix + strconv.FormatInt(t.Unix(), 10) + "-" + randomHex(4)
}

// parkedAt returns when the holder named name was parked; ok is false for
// a name that is not a parked holder's.
func parkedAt(name string) (t time.Time, ok bool) {
	rest, ok := strings.CutPrefix(name, parkedPrefix)
	if !ok {
		return time.Time{}, false
	}
	sec, _, _ := strings.Cut(rest, "-")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// park leaves h running for the next process, or removes it when it cannot
// be parked.
func (e *Engine) park(h *holder) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := e.cli.ContainerRename(ctx, h.id, client.ContainerRenameOptions{NewName: parkedName(time.Now())}); err != nil {
		e.log.Debug("removing a network namespace holder that could not be parked", "id", short(h.id), "err", err)
		e.removeHolder(h)
		return
	}
	e.log.Debug("parked a network namespace holder", "id", short(h.id))
}

// keepHolders sends SIGUSR2 to every holder of the pool every holderRenew,
// until stop is closed: each sets its count back (see above).
func (e *Engine) keepHolders(stop <-chan struct{}) {
	t := time.NewTicker(holderRenew)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p := e.nets
		p.mu.Lock()
		var ids []string
		for _, list := range p.idle {
			for _, h := range list {
				ids = append(ids, h.id)
			}
		}
		for _, h := range p.claimed {
			ids = append(ids, h.id)
		}
		p.mu.Unlock()
		for _, id := range ids {
			if err := e.renew(id); err != nil {
				e.log.Debug("renewing a network namespace holder", "id", short(id), "err", err)
			}
		}
	}
}

// renew sets the holder id's count back.
func (e *Engine) renew(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := e.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "USR2"})
	return err
}

// adopt takes the holder parked as name (container id) for instance: it is
// this process's once renamed, its count set back, and its namespace seen.
func (e *Engine) adopt(ctx context.Context, name, id, instance string) (*holder, error) {
	// By its parked name: a second process's rename finds no such
	// container.
	if _, err := e.cli.ContainerRename(ctx, name, client.ContainerRenameOptions{NewName: ownedName()}); err != nil {
		return nil, err
	}
	if err := e.renew(id); err != nil {
		e.remove(id)
		return nil, fmt.Errorf("setting its count back: %w", err)
	}
	h, err := e.inspectHolder(ctx, id, instance)
	if err != nil {
		e.remove(id)
		return nil, err
	}
	return h, nil
}
