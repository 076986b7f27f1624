// Package notify delivers Hoist's notifications: email over SMTP, JSON
// webhooks and Slack-compatible webhooks. Each is a pipeline.Notifier that
// sends once; notifypolicy decides what to send and retries.
package notify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TailLines is how many of the failing stage's last log lines an email
// carries.
const TailLines = 30

// maxLine is the longest log line quoted; longer ones are cut.
const maxLine = 2000

// Subject is the notification's one-line summary, the email subject:
// "[hoist] FAILED: ns/name:tag (stage)", "[hoist] RECOVERED: ns/name:tag"
// or "[hoist] OK: ns/name:tag". A failure before any stage ran has no
// "(stage)".
func Subject(n pipeline.Notification) string {
	key := n.Project.Key()
	switch n.Event {
	case pipeline.NotifyFailed:
		if n.Build.FailedStage == "" {
			return "[hoist] FAILED: " + key
		}
		return fmt.Sprintf("[hoist] FAILED: %s (%s)", key, n.Build.FailedStage)
	case pipeline.NotifyRecovered:
		return "[hoist] RECOVERED: " + key
	}
	return "[hoist] OK: " + key
}

// summary is the text every channel says: what happened, why, and where to
// look.
func summary(n pipeline.Notification) string {
	b := n.Build
	var sb strings.Builder
	switch n.Event {
	case pipeline.NotifyFailed:
		fmt.Fprintf(&sb, "Build #%d of %s failed", b.Number, n.Project.Key())
		if b.FailedStage != "" {
			fmt.Fprintf(&sb, " in the %s stage", b.FailedStage)
		}
		sb.WriteString(". Hoist will not tell you again until it builds successfully.\n")
	case pipeline.NotifyRecovered:
		fmt.Fprintf(&sb, "Build #%d of %s succeeded: the project has recovered.\n", b.Number, n.Project.Key())
	default:
		fmt.Fprintf(&sb, "Build #%d of %s succeeded.\n", b.Number, n.Project.Key())
	}
	sb.WriteString("\n")
	field(&sb, "Cause", b.Cause)
	field(&sb, "Commit", b.Commit)
	if n.Event == pipeline.NotifyFailed {
		field(&sb, "Stage", string(b.FailedStage))
		field(&sb, "Reason", b.Reason)
	} else {
		field(&sb, "Image", b.Image)
		field(&sb, "Digest", b.Digest)
	}
	field(&sb, "Build", n.URL)
	return sb.String()
}

func field(sb *strings.Builder, name, value string) {
	if value != "" {
		fmt.Fprintf(sb, "%-7s %s\n", name+":", value)
	}
}

// tail reads the log of (buildID, stage) as a stream and returns its last
// TailLines lines, without their line ends, each cut at maxLine bytes.
func tail(ctx context.Context, logs pipeline.LogStore, buildID int64, stage pipeline.StageName) ([]string, error) {
	rc, err := logs.OpenLog(ctx, buildID, stage, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ring := make([]string, 0, TailLines)
	r := bufio.NewReaderSize(rc, 32<<10)
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if len(line) < maxLine {
			line = append(line, chunk[:min(len(chunk), maxLine-len(line))]...)
		}
		if err == io.EOF {
			if len(line) > 0 { // a last line without its line end
				ring = push(ring, string(line))
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the log of %s: %w", stage, err)
		}
		if isPrefix {
			continue
		}
		ring = push(ring, string(line))
		line = line[:0]
	}
	return ring, nil
}

// push appends s to ring, dropping its oldest line when it is full.
func push(ring []string, s string) []string {
	if len(ring) == TailLines {
		ring = append(ring[:0], ring[1:]...)
	}
	return append(ring, s)
}
