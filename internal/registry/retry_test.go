package registry

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// TestRetriesRegistryErrors: a registry answers the first 3 blob upload
// PATCHes 429, more than go-containerregistry's own retries (3 tries)
// absorb, and the first 3 manifest PUTs after them 503. Attach, retried
// whole, succeeds all the same, and so does Tag (go-containerregistry
// retries a manifest PUT itself).
func TestRetriesRegistryErrors(t *testing.T) {
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	faults := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arm := faults["armed"] == 1
		var code int
		switch {
		case arm && r.Method == http.MethodPatch && faults["patch"] < 3:
			faults["patch"]++
			code = http.StatusTooManyRequests
		case arm && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && faults["put"] < 3:
			faults["put"]++
			code = http.StatusServiceUnavailable
		}
		mu.Unlock()
		if code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	subject := pushImage(t, host+"/ns/app:1")
	mu.Lock()
	faults["armed"] = 1
	mu.Unlock()

	c := New(Options{Keychain: anonymous})
	ctx := context.Background()
	if _, err := c.Attach(ctx, host+"/ns/app@"+subject, sbomType, sbomType, []byte(`{"bomFormat":"CycloneDX"}`), nil); err != nil {
		t.Fatalf("Attach through a 429 on its upload: %v", err)
	}
	if d, err := c.Tag(ctx, host+"/ns/app@"+subject, host+"/ns/app:latest"); err != nil || d != subject {
		t.Fatalf("Tag after a 503: %s, %v; want %s", d, err, subject)
	}
	if faults["patch"] != 3 || faults["put"] != 3 {
		t.Errorf("the faults were not all injected: %v", faults)
	}
}

// TestImageReadsRetryRegistryErrors: the configuration and layers of an
// image, read lazily after the manifest through the transport a ping chose
// (Client.on), are retried on a 429 or 503 as every other request is. The
// fault harness lost a build to one 429 on a configuration blob so.
func TestImageReadsRetryRegistryErrors(t *testing.T) {
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	armed, faulted := false, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fault := armed && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && faulted%2 == 0
		if armed && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			faulted++
		}
		mu.Unlock()
		if fault {
			code := http.StatusTooManyRequests
			if faulted > 2 {
				code = http.StatusServiceUnavailable
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/ns/app:1"
	pushImage(t, ref)
	c := New(Options{Keychain: anonymous})
	ctx := context.Background()
	if _, err := c.Digest(ctx, ref); err != nil { // pings: later calls reuse its transport
		t.Fatal(err)
	}
	mu.Lock()
	armed = true
	mu.Unlock()
	if _, err := c.RemoteConfig(ctx, ref); err != nil {
		t.Fatalf("RemoteConfig through a 429 on the configuration blob: %v", err)
	}
	if err := c.ReadLayers(ctx, ref, func(int, string, io.Reader) error { return nil }); err != nil {
		t.Fatalf("ReadLayers through a 503 on a layer: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if faulted < 3 {
		t.Errorf("only %d blob reads: the faults were not all injected", faulted)
	}
}
