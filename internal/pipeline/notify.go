package pipeline

import (
	"context"
	"fmt"
	"time"
)

// NotifyEvent is what a notification announces.
type NotifyEvent string

// The events Hoist notifies about.
const (
	NotifyFailed    NotifyEvent = "failed"    // a project broke (once until it recovers)
	NotifyRecovered NotifyEvent = "recovered" // a broken project built again
	NotifySucceeded NotifyEvent = "succeeded" // a build succeeded, for those who opted in
)

// NotifyHealth is a project's health as its owners were last told it.
type NotifyHealth string

// The healths a project can have been announced in; "" is never announced.
const (
	HealthUnknown NotifyHealth = ""
	HealthFailing NotifyHealth = "failing"
	HealthOK      NotifyHealth = "ok"
)

// NotifyState is what a project's owners were last told, and by which build.
type NotifyState struct {
	Project string // Project.Key()
	Health  NotifyHealth
	BuildID int64 // the build that set Health
	Updated time.Time
}

// Notification is one message about one finished build, before it is sent
// on any channel.
type Notification struct {
	Event   NotifyEvent
	Project Project
	Build   Build
	URL     string // the build's page, absolute
}

// NotificationStatus is how delivering a notification went.
type NotificationStatus string

// The statuses of a notification on one channel to one recipient.
const (
	NotificationPending NotificationStatus = "pending" // being tried
	NotificationSent    NotificationStatus = "sent"
	NotificationFailed  NotificationStatus = "failed" // every attempt failed
)

// NotificationRecord is the record of delivering one notification on one
// channel to one recipient, updated after every attempt.
type NotificationRecord struct {
	ID        int64
	BuildID   int64
	Project   string
	Event     NotifyEvent
	Channel   string // "email", "webhook", "slack"
	Recipient string // an address, or a webhook URL without its secret parts
	Status    NotificationStatus
	Attempts  int
	LastError string
	Created   time.Time
	Updated   time.Time
}

// NotifyStore keeps what owners were told and every delivery attempt.
// Implementations are safe for concurrent use, also by several processes.
type NotifyStore interface {
	// SwapNotifyState atomically stores next as the project's state and
	// returns the one it replaces (Health "" when there was none). When
	// the stored state was set by a newer build (a higher BuildID) it is
	// kept, and stale is true.
	SwapNotifyState(ctx context.Context, next NotifyState) (prev NotifyState, stale bool, err error)
	// PutNotification stores r: a new record when r.ID is 0 (setting it),
	// else it replaces the record with r.ID (ErrNotFound if none).
	PutNotification(ctx context.Context, r *NotificationRecord) error
	// Notifications lists a build's notification records, oldest first.
	Notifications(ctx context.Context, buildID int64) ([]NotificationRecord, error)
}

// Notifier delivers notifications on one channel. Implementations are safe
// for concurrent use; the caller retries, records attempts and never lets a
// notification fail or hold up a build.
type Notifier interface {
	// Channel names the channel in records: "email", "webhook", "slack".
	Channel() string
	// Recipients lists who gets n on this channel, as recorded; none means
	// n is not sent on this channel.
	Recipients(n Notification) []string
	// Send delivers n to one of its recipients, once. It stops when ctx ends.
	Send(ctx context.Context, n Notification, recipient string) error
}

// BuildPagePath is the path of a build's page in the web UI:
// /p/{ns}/{name}/builds/{n}, the tag added to the name when it is not
// "latest" and "library" standing for no namespace.
func BuildPagePath(b Build) string {
	path := b.Project
	if ref, err := ParseImageRef(b.Project); err == nil {
		ns := ref.Namespace
		if ns == "" {
			ns = LibraryNamespace
		}
		path = ns + "/" + ref.Name
		if ref.Tag != DefaultTag {
			path += ":" + ref.Tag
		}
	}
	return fmt.Sprintf("/p/%s/builds/%d", path, b.Number)
}
