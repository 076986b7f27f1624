// Package testenv gives tests the real parts they need (a Docker engine, and
// so on), skipping with a reason when a part is missing on a developer's
// machine and failing when CI=true, where every part must be present.
package testenv

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI (CI=true), where missing parts fail.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test with reason, or fails it in CI.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and %s", reason)
	}
	t.Skip(reason)
}

// DockerHost returns the Docker engine's address (DOCKER_HOST or the default
// unix socket) after checking that something answers there; otherwise the
// test is skipped (failed in CI).
func DockerHost(t testing.TB) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	network, addr := "tcp", strings.TrimPrefix(strings.TrimPrefix(host, "tcp://"), "http://")
	if strings.HasPrefix(host, "unix://") {
		network, addr = "unix", strings.TrimPrefix(host, "unix://")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		Missing(t, "no Docker engine at "+host+" (run `make test`, which installs and starts one)")
	}
	c.Close()
	return host
}
