// Package registry talks to OCI registries and runs one.
//
// Client implements pipeline.Registry with go-containerregistry: it promotes
// tags registry-side (one manifest PUT inside a repository, cross-mounted
// blobs between repositories of one registry) and resolves digests. Serve
// starts the embedded registry (distribution) that `hoist serve` uses by
// default, with its storage on the local filesystem.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Options configure a Client. The zero value is ready to use.
type Options struct {
	// Insecure lists registries ("host" or "host:port") that may be reached
	// over plain HTTP; HTTPS is still tried first. Loopback hosts
	// (localhost, 127.0.0.0/8, [::1]) are always allowed plain HTTP.
	Insecure []string
	// Keychain finds credentials; nil means authn.DefaultKeychain (the
	// docker config file and its credential helpers).
	Keychain authn.Keychain
	// Transport carries the requests; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// UserAgent is added to the User-Agent header of every request.
	UserAgent string
}

// Client performs registry-side operations. It is safe for concurrent use.
type Client struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	userAgent string
	insecure  map[string]bool
	pinged    sync.Map // name.Registry → http.RoundTripper, see registryTransport
}

var _ pipeline.Registry = (*Client)(nil)

// New returns a Client configured by opts.
func New(opts Options) *Client {
	c := &Client{
		keychain:  opts.Keychain,
		transport: opts.Transport,
		userAgent: opts.UserAgent,
		insecure:  pipeline.InsecureHosts(opts.Insecure),
	}
	if c.keychain == nil {
		c.keychain = authn.DefaultKeychain
	}
	if c.transport == nil {
		c.transport = remote.DefaultTransport
	}
	c.transport = &httpGuard{inner: c.transport, allowed: c.plainHTTP}
	return c
}

// Tag makes dst point at the manifest src refers to and returns dst's
// digest. Inside one repository it PUTs the manifest under the new tag and
// nothing else; between repositories of one registry it writes the image
// again so that the registry mounts the blobs instead of receiving them;
// between registries it copies the image. The digest is that of the
// manifest written, which a registry keeps byte for byte: it is not read
// back (a caller that must know what dst names now asks Digest).
func (c *Client) Tag(ctx context.Context, src, dst string) (string, error) {
	d, err := c.tag(ctx, src, dst)
	if err != nil {
		return "", fmt.Errorf("tagging %s as %s: %w", src, dst, err)
	}
	return d, nil
}

func (c *Client) tag(ctx context.Context, src, dst string) (string, error) {
	from, err := c.parse(src)
	if err != nil {
		return "", err
	}
	to, err := c.parse(dst)
	if err != nil {
		return "", err
	}
	if _, ok := to.(name.Tag); !ok {
		return "", fmt.Errorf("%s is not a tag", dst)
	}
	var desc *remote.Descriptor
	err = c.on(ctx, from.Context().Registry, to.Context().Registry, func(opts []remote.Option) error {
		desc, err = remote.Get(from, opts...)
		if err != nil {
			return fmt.Errorf("reading %s: %w", src, explain(from, err))
		}
		if err := c.put(desc, from, to, opts); err != nil {
			return fmt.Errorf("writing %s: %w", dst, explain(to, err))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

// on calls fn with the options of requests to reg (and to, the registry
// written to, when it is another), with the transport reg's ping chose
// (registryTransport) when it asks for no token, so that fn's requests
// do not ping it each. When fn fails on that transport for another reason
// than a missing manifest or blob, the registry may have changed since its
// ping: fn is called once more, pinging it again.
func (c *Client) on(ctx context.Context, reg, to name.Registry, fn func(opts []remote.Option) error) error {
	opts := c.options(ctx)
	var t http.RoundTripper
	if reg == to {
		t = c.registryTransport(ctx, reg)
	}
	if t == nil {
		return fn(opts)
	}
	err := fn(append(opts, remote.WithTransport(t)))
	var terr *transport.Error
	if err == nil || errors.Is(err, pipeline.ErrNotFound) || (errors.As(err, &terr) && notFound(terr)) || ctx.Err() != nil {
		return err
	}
	c.pinged.Delete(reg)
	return fn(opts)
}

// put writes desc, read from from, to the tag to in the cheapest way the
// two places allow.
func (c *Client) put(desc *remote.Descriptor, from, to name.Reference, opts []remote.Option) error {
	switch {
	case from.Context() == to.Context():
		return remote.Put(to, desc, opts...)
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return remote.WriteIndex(to, idx, opts...)
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return err
		}
		return remote.Write(to, img, opts...)
	default:
		return fmt.Errorf("cannot copy a manifest of type %s to another repository", desc.MediaType)
	}
}

// Digest returns the digest of the manifest ref points at, with a HEAD
// request. It returns an error wrapping pipeline.ErrNotFound when the tag or
// the repository does not exist.
func (c *Client) Digest(ctx context.Context, ref string) (string, error) {
	r, err := c.parse(ref)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	}
	reg := r.Context().Registry
	var desc *v1.Descriptor
	err = c.on(ctx, reg, reg, func(opts []remote.Option) error {
		desc, err = remote.Head(r, opts...)
		return explain(r, err)
	})
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

// registryTransport returns the transport for requests to reg that its
// ping chose, pinging it the first time, when reg asks for no token
// (anonymous or basic auth, which hold for all its repositories); nil
// otherwise (a token is scoped to one repository). Each remote call pings
// the registry first: resolving the tags of a sweep's 234 repositories
// pinged it 234 times.
func (c *Client) registryTransport(ctx context.Context, reg name.Registry) http.RoundTripper {
	if t, ok := c.pinged.Load(reg); ok {
		return t.(http.RoundTripper)
	}
	ch, err := transport.Ping(ctx, reg, c.transport)
	if err != nil || strings.EqualFold(ch.Scheme, "bearer") {
		return nil
	}
	auth, err := c.keychain.Resolve(reg)
	if err != nil {
		return nil
	}
	// What remote's own options would retry: its requests through t,
	// also the lazy reads of a configuration or a layer after fn returned,
	// get no other retry.
	inner := transport.NewRetry(c.transport, transport.WithRetryStatusCodes(retryStatusCodes...),
		transport.WithRetryBackoff(transport.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}))
	if c.userAgent != "" {
		inner = transport.NewUserAgent(inner, c.userAgent)
	}
	t, err := transport.NewWithContext(ctx, reg, auth, inner, nil)
	if err != nil {
		return nil
	}
	c.pinged.Store(reg, t)
	return t
}

// parse parses a full image reference, marking its registry insecure (plain
// HTTP allowed) when it is a loopback host or listed in Options.Insecure.
func (c *Client) parse(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, err
	}
	if c.plainHTTP(ref.Context().RegistryStr()) {
		return name.ParseReference(s, name.Insecure)
	}
	return ref, nil
}

func (c *Client) options(ctx context.Context) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.transport),
	}
	if c.userAgent != "" {
		opts = append(opts, remote.WithUserAgent(c.userAgent))
	}
	return opts
}
