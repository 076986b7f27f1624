package engine

import (
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/client"
)

// plainHTTPHook returns a request hook that adds tlsVerify=false to the
// engine's push and pull requests for registries Hoist reaches over plain
// HTTP: loopback hosts always, and the hosts in insecure (host:port or host
// alone), as in allowed. Docker decides this from its own configuration (and trusts
// loopback registries) and ignores the parameter; Podman's compatible
// service treats every registry as HTTPS unless it is told.
func plainHTTPHook(allowed map[string]bool) client.RequestHook {
	return func(req *http.Request) error {
		image := imageOfRequest(req)
		if image == "" {
			return nil
		}
		repo, err := name.NewRepository(image)
		if err != nil || !plainHTTP(repo.RegistryStr(), allowed) {
			return nil
		}
		q := req.URL.Query()
		q.Set("tlsVerify", "false")
		req.URL.RawQuery = q.Encode()
		return nil
	}
}

// insecureHosts is the set of the hosts listed, normalized.
func insecureHosts(hosts []string) map[string]bool {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[normalHost(h)] = true
	}
	return allowed
}

// imageOfRequest returns the image a push (POST /images/NAME/push) or pull
// (POST /images/create?fromImage=NAME) request names, "" for other requests.
func imageOfRequest(req *http.Request) string {
	if req.Method != http.MethodPost {
		return ""
	}
	p := req.URL.Path
	if strings.HasSuffix(p, "/images/create") {
		return req.URL.Query().Get("fromImage")
	}
	i := strings.Index(p, "/images/")
	if i < 0 || !strings.HasSuffix(p, "/push") {
		return ""
	}
	return strings.TrimSuffix(p[i+len("/images/"):], "/push")
}

// plainHTTP reports whether the registry host (host or host:port) may be
// reached over plain HTTP; the same rule as the registry adapter's.
func plainHTTP(host string, allowed map[string]bool) bool {
	host = normalHost(host)
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	hostname = strings.Trim(hostname, "[]")
	return isLoopback(hostname) || allowed[host] || allowed[hostname]
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
