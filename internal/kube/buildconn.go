package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
)

// dialStdio connects to buildkitd in pod through `buildctl dial-stdio`
// exec'd there (what buildx's kubernetes driver does): the connection is
// the exec's stdin and stdout. It lasts until closed or ctx ends.
func (x *Executor) dialStdio(ctx context.Context, pod string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &execConn{in: inW, out: outR, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var stderr strings.Builder
		_, err := x.exec(ctx, pod, "buildkitd", []string{"buildctl", "--addr", buildkitAddr, "dial-stdio"}, eofReader{inR}, outW, &stderr)
		if err == nil {
			err = errors.New("buildctl dial-stdio ended: " + strings.TrimSpace(stderr.String()))
		}
		outW.CloseWithError(err)
		inR.CloseWithError(err)
	}()
	return c, nil
}

// eofReader ends at the first error of r: the exec's copier of stdin
// reports anything else as an unhandled error once the connection is
// closed.
type eofReader struct{ r io.Reader }

func (e eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		err = io.EOF
	}
	return n, err
}

// execConn is a net.Conn over an exec's stdin (writes) and stdout (reads).
type execConn struct {
	in     *io.PipeWriter
	out    *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{} // closed when the exec has ended
	once   sync.Once
}

func (c *execConn) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *execConn) Write(p []byte) (int, error) { return c.in.Write(p) }

// Close ends stdin, so that buildctl dial-stdio ends by itself, and ends
// the exec when it has not within a second: cut at once, client-go would
// report the stdin it was copying as an unhandled error.
func (c *execConn) Close() error {
	c.once.Do(func() {
		_ = c.in.Close()
		go func() { _, _ = io.Copy(io.Discard, c.out) }()
		select {
		case <-c.done:
		case <-time.After(time.Second):
		}
		c.cancel()
		_ = c.out.Close()
	})
	return nil
}

func (c *execConn) LocalAddr() net.Addr              { return execAddr{} }
func (c *execConn) RemoteAddr() net.Addr             { return execAddr{} }
func (c *execConn) SetDeadline(time.Time) error      { return nil }
func (c *execConn) SetReadDeadline(time.Time) error  { return nil }
func (c *execConn) SetWriteDeadline(time.Time) error { return nil }

type execAddr struct{}

func (execAddr) Network() string { return "exec" }
func (execAddr) String() string  { return "buildctl dial-stdio" }

// authProvider answers BuildKit's requests for registry credentials (its
// pushes, its pulls of parents) from Options.Keychain: Hoist's
// credentials never go into the pod.
func (x *Executor) authProvider() session.Attachable {
	kc := x.keychainOrAnon()
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: func(_ context.Context, host string, _ []string, _ authprovider.ExpireCachedAuthCheck) (types.AuthConfig, error) {
			reg, err := name.NewRegistry(host, name.Insecure)
			if err != nil {
				return types.AuthConfig{}, nil
			}
			a, err := kc.Resolve(reg)
			if err != nil {
				return types.AuthConfig{}, err
			}
			cfg, err := a.Authorization()
			if err != nil {
				return types.AuthConfig{}, err
			}
			return types.AuthConfig{
				Username: cfg.Username, Password: cfg.Password,
				IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken,
				ServerAddress: host,
			}, nil
		},
	})
}

// keychainOrAnon is Options.Keychain, anonymous when there is none.
func (x *Executor) keychainOrAnon() authn.Keychain {
	if x.opts.Keychain == nil {
		return authn.NewMultiKeychain()
	}
	return x.opts.Keychain
}
