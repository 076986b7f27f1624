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

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// anonymous never finds credentials, so tests do not read ~/.docker.
var anonymous = authn.NewMultiKeychain()

// counter is a RoundTripper that counts the requests it carries, by kind.
type counter struct {
	inner http.RoundTripper
	mu    sync.Mutex
	seen  []string // "METHOD kind" per request
}

func newCounter() *counter { return &counter{inner: http.DefaultTransport} }

// RoundTrip implements http.RoundTripper.
func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.seen = append(c.seen, req.Method+" "+kind(req))
	c.mu.Unlock()
	return c.inner.RoundTrip(req)
}

// kind classifies a registry request: "ping" (/v2/), "upload" (blob
// upload endpoints), "mount" (a POST that mounts a blob from another
// repository), "blob", "manifest" or "other".
func kind(req *http.Request) string {
	p := req.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping"
	case strings.Contains(p, "/blobs/uploads"):
		if req.URL.Query().Get("mount") != "" {
			return "mount"
		}
		return "upload"
	case strings.Contains(p, "/blobs/"):
		return "blob"
	case strings.Contains(p, "/manifests/"):
		return "manifest"
	}
	return "other"
}

// count returns how many requests had one of the given "METHOD kind" keys.
func (c *counter) count(keys ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.seen {
		for _, k := range keys {
			if s == k {
				n++
			}
		}
	}
	return n
}

func (c *counter) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

// blobWrites are the requests that write or move blob data.
var blobWrites = []string{"POST upload", "PATCH upload", "PUT upload", "PUT blob"}

// ggcrRegistry starts go-containerregistry's in-memory registry.
func ggcrRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// embedded starts the embedded registry with storage in a temporary folder.
func embedded(t *testing.T) string {
	t.Helper()
	s, err := Serve(context.Background(), ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s.Addr()
}

// pushImage pushes a random 3-layer image to ref and returns its digest.
func pushImage(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	return push(t, ref, img)
}

// pushIndex pushes a random index of 2 images to ref and returns its digest.
func pushIndex(t *testing.T, ref string) string {
	t.Helper()
	idx, err := random.Index(1024, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	return push(t, ref, idx)
}

// push writes an image or an index with ggcr, not through the Client.
func push(t *testing.T, ref string, obj remote.Taggable) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var d v1.Hash
	switch o := obj.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(r, o)
		if err == nil {
			d, err = o.Digest()
		}
	case v1.Image:
		err = remote.Write(r, o)
		if err == nil {
			d, err = o.Digest()
		}
	}
	if err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return d.String()
}
