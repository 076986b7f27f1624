// Package testenv gives tests the real parts they need (a Docker engine, and
// so on), skipping with a reason when a part is missing on a developer's
// machine and failing when CI=true, where every part must be present.
package testenv

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
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

// PodmanSocket is where `scripts/deps.sh podman` serves Podman's
// Docker-compatible API.
const PodmanSocket = "unix:///run/hoist-podman.sock"

// Podman reports whether the tests run against Podman's Docker-compatible
// service (HOIST_TEST_ENGINE=podman) rather than Docker.
func Podman() bool { return os.Getenv("HOIST_TEST_ENGINE") == "podman" }

// DockerHost returns the container engine's address (DOCKER_HOST, else the
// default Docker socket) after checking that something answers there; otherwise the test is
// skipped (failed in CI). With HOIST_TEST_ENGINE=podman the engine must be
// Podman, so that a run meant for it never tests Docker instead.
func DockerHost(t testing.TB) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" && Podman() {
		// The hoist processes and docker commands tests start read it too.
		t.Fatalf("HOIST_TEST_ENGINE=podman needs DOCKER_HOST=%s (or Podman's address)", PodmanSocket)
	}
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
		if Podman() {
			Missing(t, "no Podman service at "+host+" (run `scripts/deps.sh podman`, which installs and starts one)")
		}
		Missing(t, "no Docker engine at "+host+" (run `make test`, which installs and starts one)")
	}
	c.Close()
	if Podman() {
		requirePodman(t, network, addr, host)
	}
	return host
}

// requirePodman fails the test unless the engine at addr says it is Podman.
func requirePodman(t testing.TB, network, addr, host string) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	defer hc.CloseIdleConnections()
	res, err := hc.Get("http://engine/version")
	if err != nil {
		t.Fatalf("HOIST_TEST_ENGINE=podman: asking %s its version: %v", host, err)
	}
	defer res.Body.Close()
	var v struct{ Components []struct{ Name string } }
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("HOIST_TEST_ENGINE=podman: reading the version of %s: %v", host, err)
	}
	for _, c := range v.Components {
		if strings.HasPrefix(c.Name, "Podman") {
			return
		}
	}
	t.Fatalf("HOIST_TEST_ENGINE=podman but the engine at %s is not Podman (components %+v): set DOCKER_HOST=%s", host, v.Components, PodmanSocket)
}
