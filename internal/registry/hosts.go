package registry

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// plainHTTP reports whether the registry host (host or host:port) may be
// reached over plain HTTP (pipeline.PlainHTTP with Options.Insecure).
func (c *Client) plainHTTP(host string) bool { return pipeline.PlainHTTP(host, c.insecure) }

func normalHost(h string) string { return strings.ToLower(strings.TrimSpace(h)) }

// httpGuard refuses plain-HTTP requests to hosts that are not allowed them.
//
// go-containerregistry falls back to plain HTTP on its own for some hosts
// (private RFC 1918 addresses, not only loopback ones); this keeps
// "everything else is HTTPS" true, so that credentials never travel in the
// clear to a host nobody declared insecure.
type httpGuard struct {
	inner   http.RoundTripper
	allowed func(host string) bool
}

// RoundTrip implements http.RoundTripper.
func (g *httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allowed(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("plain HTTP to %s refused: only loopback hosts and registries listed as insecure may use it", req.URL.Host)
	}
	return g.inner.RoundTrip(req)
}
