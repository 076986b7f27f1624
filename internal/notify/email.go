package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"
	"unicode"

	"github.com/hoistci/hoist/internal/pipeline"
)

// EmailOptions configure email over SMTP.
type EmailOptions struct {
	Addr     string // SMTP server host:port
	From     string // sender address
	User     string // authenticate with PLAIN when set (only over TLS or to loopback)
	Password string
	// TLS is the configuration STARTTLS uses when the server offers it;
	// nil verifies the server's certificate for its host name.
	TLS *tls.Config
}

// Email sends notifications to a project's notify-email over SMTP, with
// STARTTLS whenever the server offers it.
type Email struct {
	opts EmailOptions
	logs pipeline.LogStore
}

var _ pipeline.Notifier = (*Email)(nil)

// NewEmail returns an Email notifier; logs is read for the failing stage's
// last lines.
func NewEmail(opts EmailOptions, logs pipeline.LogStore) *Email {
	return &Email{opts: opts, logs: logs}
}

// Channel is "email".
func (e *Email) Channel() string { return "email" }

// Recipients are the addresses in the project's notify-email (separated by
// commas or spaces).
func (e *Email) Recipients(n pipeline.Notification) []string {
	// Splitting at every space also keeps line breaks out of the To header.
	return strings.FieldsFunc(n.Project.NotifyEmail, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

// Send mails n to recipient.
func (e *Email) Send(ctx context.Context, n pipeline.Notification, recipient string) error {
	msg, err := e.message(ctx, n, recipient)
	if err != nil {
		return err
	}
	if err := e.transmit(ctx, recipient, msg); err != nil {
		return fmt.Errorf("mailing %s through %s: %w", recipient, e.opts.Addr, err)
	}
	return nil
}

// message is the whole mail: headers and a quoted-printable text body.
func (e *Email) message(ctx context.Context, n pipeline.Notification, to string) ([]byte, error) {
	body, err := e.body(ctx, n)
	if err != nil {
		return nil, err
	}
	var m bytes.Buffer
	fmt.Fprintf(&m, "From: %s\r\n", e.opts.From)
	fmt.Fprintf(&m, "To: %s\r\n", to)
	fmt.Fprintf(&m, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", Subject(n)))
	fmt.Fprintf(&m, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&m, "Message-ID: <%s@hoist>\r\n", randomID())
	m.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&m)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return m.Bytes(), nil
}

// body is the text: the summary, and for a failure the failing stage's
// last log lines.
func (e *Email) body(ctx context.Context, n pipeline.Notification) (string, error) {
	var sb strings.Builder
	sb.WriteString(summary(n))
	if n.Event != pipeline.NotifyFailed || n.Build.FailedStage == "" || e.logs == nil {
		return sb.String(), nil
	}
	lines, err := tail(ctx, e.logs, n.Build.ID, n.Build.FailedStage)
	if err != nil {
		return "", fmt.Errorf("reading the log of build %d: %w", n.Build.ID, err)
	}
	if len(lines) == 0 {
		fmt.Fprintf(&sb, "\nThe %s log is empty.\n", n.Build.FailedStage)
		return sb.String(), nil
	}
	fmt.Fprintf(&sb, "\nThe last %d lines of the %s log:\n\n", len(lines), n.Build.FailedStage)
	for _, l := range lines {
		sb.WriteString("    " + l + "\n")
	}
	return sb.String(), nil
}

// transmit speaks SMTP to the server, within ctx.
func (e *Email) transmit(ctx context.Context, to string, msg []byte) error {
	host, _, err := net.SplitHostPort(e.opts.Addr)
	if err != nil {
		return fmt.Errorf("--smtp-addr must be host:port: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.opts.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("hoist"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := e.opts.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("starting TLS: %w", err)
		}
	}
	if e.opts.User != "" {
		if err := c.Auth(smtp.PlainAuth("", e.opts.User, e.opts.Password, host)); err != nil {
			return fmt.Errorf("authenticating as %s: %w", e.opts.User, err)
		}
	}
	if err := c.Mail(e.opts.From); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
