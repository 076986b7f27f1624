// Package notifypolicy decides who hears about a finished build, and
// delivers it without ever holding up or failing a build. Decide is the
// policy: every failure is worth telling, but a broken project sends one
// notice until it recovers, its recovery is announced, and successes are
// told only to those who opted in; skipped and cancelled builds are told to
// nobody. Service applies it to every build a dispatcher or hoist run
// finishes, then sends the notices on every channel (pipeline.Notifier)
// from a bounded queue, retrying with backoff and recording each attempt.
package notifypolicy

import "github.com/hoistci/hoist/internal/pipeline"

// Decision is what to do about one finished build.
type Decision struct {
	Health pipeline.NotifyHealth // the project's health to remember; "" keeps the stored one
	Event  pipeline.NotifyEvent  // what to announce; "" announces nothing
}

// Decide applies the policy to build b of a project whose owners were last
// told prev, successOptIn being whether they asked to hear of successes
// (globally or for this project).
//
//   - failed: announce it unless the project is already known to fail;
//   - succeeded: announce the recovery if it was failing, else the success
//     when opted in;
//   - skipped (unchanged, or "parent X failed"), cancelled or not finished:
//     nothing changes and nothing is announced, so a skip is no recovery.
func Decide(prev pipeline.NotifyHealth, b pipeline.Build, successOptIn bool) Decision {
	switch b.Status {
	case pipeline.StatusFailed:
		if prev == pipeline.HealthFailing {
			return Decision{Health: pipeline.HealthFailing}
		}
		return Decision{Health: pipeline.HealthFailing, Event: pipeline.NotifyFailed}
	case pipeline.StatusSucceeded:
		switch {
		case prev == pipeline.HealthFailing:
			return Decision{Health: pipeline.HealthOK, Event: pipeline.NotifyRecovered}
		case successOptIn:
			return Decision{Health: pipeline.HealthOK, Event: pipeline.NotifySucceeded}
		}
		return Decision{Health: pipeline.HealthOK}
	}
	return Decision{}
}
