package registry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestPlainHTTP(t *testing.T) {
	c := New(Options{Insecure: []string{"Registry.LAN", "10.0.0.7:5000"}})
	for host, want := range map[string]bool{
		"localhost":           true,
		"localhost:5000":      true,
		"reg.localhost:5000":  true,
		"127.0.0.1:5000":      true,
		"127.9.8.7:80":        true,
		"[::1]:5000":          true,
		"registry.lan:443":    true,
		"registry.lan":        true,
		"10.0.0.7:5000":       true,
		"10.0.0.7:5001":       false,
		"192.168.1.2:5000":    false,
		"quay.io":             false,
		"index.docker.io":     false,
		"localhost.evil.com":  false,
		"128.0.0.1:5000":      false,
		"[2001:db8::1]:5000":  false,
		"notlocalhost:5000":   false,
		"registry.lan.evil.x": false,
	} {
		if got := c.plainHTTP(host); got != want {
			t.Errorf("plainHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}

// A registry reached by a name other than a loopback one: the dialer sends
// every connection to srv, whatever the host asked for.
func redirectingTransport(srv *httptest.Server) http.RoundTripper {
	addr := srv.Listener.Addr().String()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return tr
}

func TestInsecureHostOverPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	loop := strings.TrimPrefix(srv.URL, "http://")
	want := pushImage(t, loop+"/ns/app:test")
	tr := redirectingTransport(srv)

	// ggcr would fall back to plain HTTP for a private address by itself;
	// only hosts listed as insecure may.
	ref := "10.1.2.3:5000/ns/app:test"
	_, err := New(Options{Keychain: anonymous, Transport: tr}).Digest(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP to 10.1.2.3:5000 refused") {
		t.Errorf("Digest(%s) without Insecure = %v, want plain HTTP refused", ref, err)
	}

	for _, insecure := range []string{"10.1.2.3", "10.1.2.3:5000"} {
		c := New(Options{Keychain: anonymous, Transport: tr, Insecure: []string{insecure}})
		got, err := c.Digest(context.Background(), ref)
		if err != nil || got != want {
			t.Errorf("Insecure %s: Digest(%s) = %s, %v; want %s", insecure, ref, got, err, want)
		}
	}
}

func TestLoopbackBeyond127001(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	srv := httptest.NewUnstartedServer(registry.New())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	host := ln.Addr().String()
	want := pushImage(t, host+"/ns/app:test")
	got, err := New(Options{Keychain: anonymous}).Digest(context.Background(), host+"/ns/app:test")
	if err != nil || got != want {
		t.Errorf("Digest = %s, %v; want %s", got, err, want)
	}
}

func TestAuthErrorSaysDockerLogin(t *testing.T) {
	reg := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := New(Options{Keychain: anonymous})

	_, err := c.Digest(context.Background(), host+"/ns/app:test")
	if err == nil || !strings.Contains(err.Error(), "run `docker login "+host+"`") {
		t.Errorf("Digest = %v, want advice to run docker login %s", err, host)
	}
	if errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("an auth error is ErrNotFound: %v", err)
	}
	_, err = c.Tag(context.Background(), host+"/ns/app:test", host+"/ns/app:rc")
	if err == nil || !strings.HasPrefix(err.Error(), "tagging "+host+"/ns/app:test as "+host+"/ns/app:rc: ") ||
		!strings.Contains(err.Error(), "docker login "+host) {
		t.Errorf("Tag = %v, want the operation, the refs and docker login", err)
	}
}

func TestHTTPGuard(t *testing.T) {
	c := New(Options{})
	g := c.transport
	req, _ := http.NewRequest(http.MethodGet, "http://192.168.0.9:5000/v2/", nil)
	if _, err := g.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("plain HTTP to a private address: %v, want refused", err)
	}
}
