// Package engine is Hoist's adapter to a container engine that speaks the
// Docker Engine API (Docker, or Podman's Docker-compatible service). It
// implements pipeline.Engine: building images with the classic builder,
// pushing and pulling them, inspecting them and running containers.
package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// ErrNoEngine is wrapped in the error New returns when no container engine
// answers at the configured address.
var ErrNoEngine = errors.New("no container engine")

var _ pipeline.Engine = (*Engine)(nil)

// Options configures New. The zero value connects to DOCKER_HOST (or the
// default socket) with the user's docker credentials and logs nothing.
type Options struct {
	// Host is the engine's address ("unix:///var/run/docker.sock",
	// "tcp://host:2376"); "" means DOCKER_HOST or the platform default.
	Host string
	// Keychain gives registry credentials for pushes and pulls; nil means
	// authn.DefaultKeychain (docker config files and credential helpers).
	Keychain authn.Keychain
	// Logger receives debug records about engine calls; nil logs nothing.
	Logger *slog.Logger
	// Insecure lists registry hosts (host:port or host) the engine may
	// push to and pull from over plain HTTP, besides loopback ones. Docker
	// reads this from its own configuration; Podman is told on each call.
	Insecure []string
	// Limits bound every container Hoist starts (and every build's RUN
	// steps) unless the context carries others (pipeline.WithLimits);
	// zero fields are DefaultLimits'.
	Limits pipeline.Limits
}

// Engine talks to one container engine. It is safe for concurrent use.
type Engine struct {
	cli      *client.Client
	keychain authn.Keychain
	log      *slog.Logger
	insecure map[string]bool // registry hosts allowed plain HTTP
	podman   bool            // the engine is Podman's compatible service
	limits   pipeline.Limits
	nets     *netPool   // network namespace holders (netns.go)
	due      *labelsDue // labels builds left for Push (labelpush.go)
}

// New connects to the engine, negotiates the API version and pings it. When
// nothing answers, the error wraps ErrNoEngine and tells the user what to do.
func New(ctx context.Context, opts Options) (*Engine, error) {
	clientOpts := []client.Opt{client.FromEnv, client.WithHTTPRequestHook(plainHTTPHook(pipeline.InsecureHosts(opts.Insecure)))}
	if opts.Host != "" {
		clientOpts = append(clientOpts, client.WithHost(opts.Host))
	}
	cli, err := client.New(clientOpts...)
	if err != nil {
		return nil, noEngine(opts.Host, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := cli.Ping(pingCtx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		host := cli.DaemonHost()
		cli.Close()
		return nil, noEngine(host, err)
	}
	podman, err := isPodman(pingCtx, cli)
	if err != nil {
		host := cli.DaemonHost()
		cli.Close()
		return nil, noEngine(host, err)
	}
	e := &Engine{cli: cli, keychain: opts.Keychain, log: opts.Logger, insecure: pipeline.InsecureHosts(opts.Insecure), podman: podman,
		limits: opts.Limits.Or(DefaultLimits), nets: &netPool{}, due: &labelsDue{}}
	if e.keychain == nil {
		e.keychain = authn.DefaultKeychain
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log.Debug("connected to container engine", "host", cli.DaemonHost(), "api", cli.ClientVersion(), "podman", podman)
	return e, nil
}

// noEngine builds the one-paragraph error a user sees when no engine answers.
func noEngine(host string, err error) error {
	if host == "" {
		host = client.DefaultDockerHost
	}
	cause := err.Error()
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		cause = opErr.Error()
	}
	return fmt.Errorf("%w at %s: %s. Hoist needs a Docker engine (or Podman's Docker-compatible service): "+
		"on Debian run \"apt-get install -y docker.io && dockerd &\", or set DOCKER_HOST", ErrNoEngine, host, cause)
}

// Close removes the engine's network namespace holders and releases the
// connection to the engine.
func (e *Engine) Close() error {
	e.closeHolders()
	return e.cli.Close()
}

// registryAuth returns the X-Registry-Auth value for ref's registry:
// base64url JSON of the credentials the keychain has, "{}" when anonymous.
func (e *Engine) registryAuth(ctx context.Context, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	reg := r.Context().Registry
	auth, err := authn.Resolve(ctx, e.keychain, reg)
	if err != nil {
		return "", fmt.Errorf("finding credentials for %s: %w", reg.RegistryStr(), err)
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return "", fmt.Errorf("reading credentials for %s: %w", reg.RegistryStr(), err)
	}
	ac := registry.AuthConfig{
		Username:      cfg.Username,
		Password:      cfg.Password,
		Auth:          cfg.Auth,
		IdentityToken: cfg.IdentityToken,
		RegistryToken: cfg.RegistryToken,
	}
	if ac != (registry.AuthConfig{}) {
		ac.ServerAddress = reg.RegistryStr()
	}
	buf, err := json.Marshal(ac)
	if err != nil {
		return "", fmt.Errorf("encoding credentials for %s: %w", reg.RegistryStr(), err)
	}
	return base64.URLEncoding.EncodeToString(buf), nil
}

// orDiscard returns w, or io.Discard when w is nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
