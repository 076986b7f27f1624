package registry

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// plainHTTP reports whether the registry host (host or host:port) may be
// reached over plain HTTP: loopback hosts always, others when listed in
// Options.Insecure, by host:port or by host alone.
func (c *Client) plainHTTP(host string) bool {
	host = normalHost(host)
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	hostname = strings.Trim(hostname, "[]")
	return isLoopback(hostname) || c.insecure[host] || c.insecure[hostname]
}

func normalHost(h string) string { return strings.ToLower(strings.TrimSpace(h)) }

// isLoopback reports whether hostname (no port, no brackets) names this
// machine: localhost, *.localhost, 127.0.0.0/8 or ::1.
func isLoopback(hostname string) bool {
	if hostname == "localhost" || strings.HasSuffix(hostname, ".localhost") {
		return true
	}
	ip := net.ParseIP(hostname)
	return ip != nil && ip.IsLoopback()
}

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
