package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"

	// The filesystem storage driver registers itself with the driver
	// factory that handlers.NewApp looks "filesystem" up in.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// secretFile holds the registry's http.secret (it signs upload state), so
// that uploads survive a restart. It lies in RootDir beside the "docker"
// folder the storage driver writes.
const secretFile = "http.secret"

// shutdownTimeout bounds how long Close waits for requests in flight.
const shutdownTimeout = 10 * time.Second

// ServerConfig configures the embedded registry.
type ServerConfig struct {
	// Addr is the address to listen on, "127.0.0.1:5000"; port 0 picks a
	// free one.
	Addr string
	// RootDir holds the registry's storage; it is created if missing, and
	// made private (0700).
	RootDir string
	// Logger receives the registry's own log lines when it is enabled at
	// debug level; otherwise they are dropped. Nil drops them.
	Logger *slog.Logger
	// Access says who may read and write; the zero value, AccessOpen, lets
	// anyone. Otherwise writes (and private reads) need the credentials
	// Server.Credentials returns, made on first use and kept in RootDir.
	Access Access
}

// Server is a running embedded registry.
type Server struct {
	addr     string
	http     *http.Server
	app      *handlers.App
	stopped  chan struct{} // closed when http.Serve has returned
	serveErr error         // what it returned
	close    sync.Once
	err      error

	user, pass string // who may write; empty with AccessOpen
}

// Serve starts an OCI registry (distribution v3) on cfg.Addr, storing
// images under cfg.RootDir, with deletes enabled and cfg.Access, and with
// the OCI 1.1 referrers API in front of it (see referrers.go). It is
// listening when Serve returns, and serves until Close or until ctx is done.
//
// The registry logs through logrus's process-wide logger, which Serve
// configures; REGISTRY_* environment variables override the configuration
// the way they do for distribution's own binary.
func Serve(ctx context.Context, cfg ServerConfig) (*Server, error) {
	ln, err := listen(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, cfg, ln)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("starting registry on %s: %w", cfg.Addr, err)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.stopped:
		}
	}()
	return s, nil
}

func start(ctx context.Context, cfg ServerConfig, ln net.Listener) (*Server, error) {
	if err := os.MkdirAll(cfg.RootDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(cfg.RootDir, 0o700); err != nil { // an older Hoist made it 0755
		return nil, err
	}
	secret, err := loadSecret(filepath.Join(cfg.RootDir, secretFile))
	if err != nil {
		return nil, err
	}
	conf, err := config(cfg.RootDir, ln.Addr().String(), secret)
	if err != nil {
		return nil, err
	}
	quietLogrus(ctx, cfg.Logger)
	app, err := newApp(ctx, conf)
	if err != nil {
		return nil, err
	}
	g := &gate{next: withReferrers(app), access: cfg.Access, now: time.Now}
	if cfg.Access != AccessOpen {
		if g.pass, err = loadPassword(filepath.Join(cfg.RootDir, PasswordFile)); err != nil {
			return nil, err
		}
		g.user = credentialsUser
		key := sha256.Sum256([]byte("hoist registry token\x00" + secret))
		g.key = key[:]
	}
	s := &Server{
		addr:    ln.Addr().String(),
		http:    &http.Server{Handler: g, ReadHeaderTimeout: 30 * time.Second},
		app:     app,
		stopped: make(chan struct{}),
		user:    g.user,
		pass:    g.pass,
	}
	go func() {
		s.serveErr = s.http.Serve(ln)
		close(s.stopped)
	}()
	return s, nil
}

// Addr returns the host:port the registry listens on, e.g. "127.0.0.1:5000".
func (s *Server) Addr() string { return s.addr }

// Close stops accepting connections, waits up to 10 s for requests in
// flight, and stops the registry's background work. Later calls return the
// first call's result.
func (s *Server) Close() error {
	s.close.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := s.http.Shutdown(ctx)
		<-s.stopped
		if !errors.Is(s.serveErr, http.ErrServerClosed) {
			err = errors.Join(err, s.serveErr)
		}
		s.err = errors.Join(err, s.app.Shutdown())
		if s.err != nil {
			s.err = fmt.Errorf("stopping registry on %s: %w", s.addr, s.err)
		}
	})
	return s.err
}

// listen binds addr, explaining the usual failure.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("starting registry: %s is already in use (another registry, or another hoist?); choose a free address with --registry-addr 127.0.0.1:PORT", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	}
	return ln, nil
}

// newApp builds distribution's handler, turning its panics (how NewApp
// reports a bad configuration) into an error.
func newApp(ctx context.Context, conf *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configuring registry: %v", r)
		}
	}()
	return handlers.NewApp(ctx, conf), nil
}

// config builds the registry configuration. JSON is YAML, so every value is
// quoted correctly whatever the paths hold.
func config(rootDir, addr, secret string) (*configuration.Configuration, error) {
	doc := map[string]any{
		"version": "0.1",
		"log": map[string]any{
			"level":     "error",
			"accesslog": map[string]any{"disabled": true},
		},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": rootDir},
			"delete":     map[string]any{"enabled": true},
		},
		"http": map[string]any{
			"addr":    addr,
			"secret":  secret,
			"headers": map[string]any{"X-Content-Type-Options": []string{"nosniff"}},
		},
		"health": map[string]any{
			"storagedriver": map[string]any{"enabled": false},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	conf, err := configuration.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parsing registry configuration: %w", err)
	}
	return conf, nil
}

// loadSecret reads the secret in path, creating it on first use.
func loadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading registry secret: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing registry secret: %w", err)
	}
	return secret, nil
}

// quietLogrus points logrus's standard logger, which distribution logs
// through, at logger when logger shows debug lines, and silences it
// otherwise. It changes process-wide state: the last Serve wins.
func quietLogrus(ctx context.Context, logger *slog.Logger) {
	if logger == nil || !logger.Enabled(ctx, slog.LevelDebug) {
		logrus.SetLevel(logrus.ErrorLevel)
		logrus.SetOutput(io.Discard)
		return
	}
	logrus.SetLevel(logrus.DebugLevel)
	logrus.SetOutput(slogWriter{logger})
}

// slogWriter turns logrus's text lines into slog debug records.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(p)), "component", "registry")
	return len(p), nil
}
