package pipeline

import (
	"net"
	"strings"
)

// IsLoopbackHost reports whether hostname (no port, no brackets) names
// this machine: localhost, *.localhost, 127.0.0.0/8 or ::1.
func IsLoopbackHost(hostname string) bool {
	hostname = strings.ToLower(strings.TrimSuffix(hostname, "."))
	if hostname == "localhost" || strings.HasSuffix(hostname, ".localhost") {
		return true
	}
	ip := net.ParseIP(hostname)
	return ip != nil && ip.IsLoopback()
}

// InsecureHosts is the set of registry hosts (host:port or host alone)
// listed as reached over plain HTTP, normalized for PlainHTTP.
func InsecureHosts(hosts []string) map[string]bool {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[normalHost(h)] = true
	}
	return allowed
}

// PlainHTTP reports whether the registry host (host or host:port) may be
// reached over plain HTTP: loopback hosts always, others when insecure
// (InsecureHosts) lists them, by host:port or by host alone. Every part of
// Hoist that talks to registries follows this one rule.
func PlainHTTP(host string, insecure map[string]bool) bool {
	host = normalHost(host)
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	hostname = strings.Trim(hostname, "[]")
	return IsLoopbackHost(hostname) || insecure[host] || insecure[hostname]
}

func normalHost(h string) string { return strings.ToLower(strings.TrimSpace(h)) }
