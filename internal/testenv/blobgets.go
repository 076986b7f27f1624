package testenv

import (
	"net/http"
	"strings"
	"sync"
)

// BlobGets is a counting seam in front of a real registry: an
// http.RoundTripper (give it as a registry client's transport) that
// counts the GETs of each blob and passes every request on.
type BlobGets struct {
	mu sync.Mutex
	n  map[string]int // by digest
}

// RoundTrip implements http.RoundTripper.
func (b *BlobGets) RoundTrip(req *http.Request) (*http.Response, error) {
	if i := strings.Index(req.URL.Path, "/blobs/sha256:"); req.Method == http.MethodGet && i >= 0 {
		b.mu.Lock()
		if b.n == nil {
			b.n = map[string]int{}
		}
		b.n[req.URL.Path[i+len("/blobs/"):]]++
		b.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Count is how many GETs of the blob digest ("sha256:…") went by.
func (b *BlobGets) Count(digest string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n[digest]
}
