package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message an SMTP test server received.
type Mail struct {
	From string
	To   []string
	Data []byte // the message as sent: headers and body
	TLS  bool   // it came over STARTTLS
	User string // who authenticated, "" for nobody
}

// SMTPOptions configure SMTPServer.
type SMTPOptions struct {
	TLS      bool   // offer STARTTLS with a self-signed certificate for 127.0.0.1
	User     string // require PLAIN authentication as User with Password
	Password string
}

// SMTP is a real SMTP server (github.com/emersion/go-smtp) on loopback that
// keeps what it receives.
type SMTP struct {
	Addr    string
	RootCAs *x509.CertPool // trusts the server's certificate when TLS is on

	opts SMTPOptions
	mu   sync.Mutex
	mail []Mail
	got  chan struct{}
}

// SMTPServer starts an SMTP server on loopback, stopped when t ends.
func SMTPServer(t testing.TB, opts SMTPOptions) *SMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp server: %v", err)
	}
	s := &SMTP{Addr: ln.Addr().String(), opts: opts, got: make(chan struct{}, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = !opts.TLS
	if opts.TLS {
		cert, pool := selfSigned(t)
		srv.TLSConfig, s.RootCAs = &tls.Config{Certificates: []tls.Certificate{cert}}, pool
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Mails returns what the server has received so far.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

// Wait waits until the server has received n mails in all, and returns them;
// it fails t after timeout.
func (s *SMTP) Wait(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Mails(); len(m) >= n {
			return m
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("the SMTP server got %d mails in %v, want %d", len(s.Mails()), timeout, n)
		}
	}
}

type smtpSession struct {
	s    *SMTP
	c    *smtp.Conn
	user string
	cur  Mail
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != ss.s.opts.User || password != ss.s.opts.Password {
			return errors.New("invalid credentials")
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.cur = Mail{From: from}
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.cur.Data, ss.cur.TLS, ss.cur.User = buf.Bytes(), isTLS, ss.user
	ss.s.mu.Lock()
	ss.s.mail = append(ss.s.mail, ss.cur)
	ss.s.mu.Unlock()
	ss.s.got <- struct{}{}
	return nil
}

func (ss *smtpSession) Reset()        { ss.cur = Mail{} }
func (ss *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
