package engine

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestPlainHTTPHook(t *testing.T) {
	hook := plainHTTPHook(pipeline.InsecureHosts([]string{"Reg.Example:5000", "plain.example"}))
	for _, tc := range []struct {
		method, url string
		want        string // tlsVerify after the hook
	}{
		{"POST", "/v1.41/images/127.0.0.1:5941/examples/busybox/push?tag=test", "false"},
		{"POST", "/v1.41/images/localhost:5000/a/b/push?tag=x", "false"},
		{"POST", "/v1.41/images/reg.example:5000/a/b/push?tag=x", "false"},
		{"POST", "/v1.41/images/plain.example:443/a/push?tag=x", "false"},
		{"POST", "/v1.41/images/create?fromImage=127.0.0.1%3A5941%2Fa%2Fb&tag=sha256%3Aabc", "false"},
		{"POST", "/v1.41/images/create?fromImage=reg.example%3A5000%2Fa", "false"},
		{"POST", "/v1.41/images/quay.io/a/b/push?tag=x", ""},
		{"POST", "/v1.41/images/reg.example:5001/a/b/push?tag=x", ""},
		{"POST", "/v1.41/images/create?fromImage=busybox", ""},
		{"GET", "/v1.41/images/127.0.0.1:5941/a/json", ""},
		{"POST", "/v1.41/images/127.0.0.1:5941/a/tag?repo=x", ""},
	} {
		u, err := url.Parse("http://engine" + tc.url)
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{Method: tc.method, URL: u}
		if err := hook(req); err != nil {
			t.Fatal(err)
		}
		if got := req.URL.Query().Get("tlsVerify"); got != tc.want {
			t.Errorf("%s %s: tlsVerify = %q, want %q", tc.method, tc.url, got, tc.want)
		}
	}
}

func TestPushedDigest(t *testing.T) {
	const d = "sha256:07d636ed0c7fc3726553646f752564a0bd3a9902e19b6dec0c9e2a90d45486cd"
	for in, want := range map[string]string{
		"test: digest: " + d + " size: 423": d, // Docker and Podman
		"digest: " + d:                      d,
		"Copying blob " + d:                 "",
		"test: digest: sha256:1 size: 5":    "",
	} {
		got := ""
		if m := pushedDigest.FindStringSubmatch(in); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: digest %q, want %q", in, got, want)
		}
	}
}

// TestIsPodman: a ping tells Podman's service from Docker as its version
// does (the components it names), on whichever engine the tests run.
func TestIsPodman(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	v, err := e.cli.ServerVersion(t.Context(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := false
	for _, c := range v.Components {
		want = want || strings.HasPrefix(c.Name, "Podman")
	}
	got, err := isPodman(t.Context(), e.cli)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || e.podman != want {
		t.Errorf("isPodman = %v, Engine.podman = %v; the engine's version (%s %v) says %v", got, e.podman, v.Version, v.Components, want)
	}
}
