package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/hoistci/hoist/internal/pipeline"
)

// blobGets counts the GETs of each blob that reach the registry, and cuts
// the body of the first cut of them short (the fault a test injects).
type blobGets struct {
	inner http.RoundTripper
	mu    sync.Mutex
	n     map[string]int // by digest
	cut   int            // bodies still to cut short
	hold  chan struct{}  // a cut body fails once it is closed
}

func newBlobGets() *blobGets {
	return &blobGets{inner: http.DefaultTransport, n: map[string]int{}}
}

func (b *blobGets) RoundTrip(req *http.Request) (*http.Response, error) {
	i := strings.Index(req.URL.Path, "/blobs/sha256:")
	if req.Method != http.MethodGet || i < 0 {
		return b.inner.RoundTrip(req)
	}
	b.mu.Lock()
	b.n[req.URL.Path[i+len("/blobs/"):]]++
	cut := b.cut > 0
	if cut {
		b.cut--
	}
	b.mu.Unlock()
	resp, err := b.inner.RoundTrip(req)
	if err == nil && cut && resp.StatusCode == http.StatusOK {
		resp.Body = cutBody{io.LimitReader(resp.Body, 4096), resp.Body, b.hold}
	}
	return resp, err
}

// cutBody ends with an error after its first bytes.
type cutBody struct {
	r    io.Reader
	c    io.Closer
	hold chan struct{}
}

func (c cutBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		<-c.hold
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c cutBody) Close() error { return c.c.Close() }

func (b *blobGets) counts() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for k, v := range b.n {
		out[k] = v
	}
	return out
}

// sharedImage pushes a random image of 3 layers of 256 KiB of content each
// and returns its reference, a client that reaches it through gets, and
// the layers' compressed digests.
func sharedFixture(t *testing.T) (ref string, c *Client, gets *blobGets, digests []string) {
	t.Helper()
	host := embedded(t)
	img, err := random.Image(256<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref = host + "/ns/shared:test"
	push(t, ref, img)
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		digests = append(digests, d.String())
	}
	gets = newBlobGets()
	return ref, New(Options{Keychain: anonymous, Transport: gets}), gets, digests
}

// hashLayers reads every layer of ref through lr and returns the SHA-256 of
// each one's uncompressed bytes.
func hashLayers(ctx context.Context, lr pipeline.LayerReader, ref string) ([]string, error) {
	var sums []string
	err := lr.ReadLayers(ctx, ref, func(_ int, _ string, r io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		sums = append(sums, hex.EncodeToString(h.Sum(nil)))
		return nil
	})
	return sums, err
}

// TestSharedLayersReadOnce: two readers of one image in one build
// (sharing a LayerShare) get the same bytes as a direct read, and the
// registry serves each layer blob once; Close removes the kept files.
func TestSharedLayersReadOnce(t *testing.T) {
	ref, c, gets, digests := sharedFixture(t)
	want, err := hashLayers(context.Background(), c, ref)
	if err != nil {
		t.Fatal(err)
	}
	gets.mu.Lock()
	gets.n = map[string]int{}
	gets.mu.Unlock()

	dir := t.TempDir()
	share := pipeline.NewLayerShare(dir)
	ctx := pipeline.WithLayerShare(context.Background(), share)
	lr := pipeline.SharedLayers(c)
	var wg sync.WaitGroup
	got := make([][]string, 3)
	errs := make([]error, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = hashLayers(ctx, lr, ref)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("reader %d: %v", i, errs[i])
		}
		if fmt.Sprint(got[i]) != fmt.Sprint(want) {
			t.Errorf("reader %d read %v, want %v", i, got[i], want)
		}
	}
	// A reader after the download ended reads the kept files.
	if again, err := hashLayers(ctx, lr, ref); err != nil || fmt.Sprint(again) != fmt.Sprint(want) {
		t.Errorf("a later reader: %v %v, want %v", again, err, want)
	}
	n := gets.counts()
	for _, d := range digests {
		if n[d] != 1 {
			t.Errorf("layer %s: %d GET(s) from the registry, want 1 (all: %v)", d, n[d], n)
		}
	}
	if files, _ := os.ReadDir(dir); len(files) == 0 {
		t.Errorf("no layer was kept in %s", dir)
	}
	if err := share.Close(); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("%d file(s) left in %s after Close", len(files), dir)
	}
}

// TestSharedLayersCancelledReader: a reader cancelled in the middle of a
// layer leaves the other reader's read whole, and the layers are still
// read once.
func TestSharedLayersCancelledReader(t *testing.T) {
	ref, c, gets, digests := sharedFixture(t)
	want, err := hashLayers(context.Background(), c, ref)
	if err != nil {
		t.Fatal(err)
	}
	gets.mu.Lock()
	gets.n = map[string]int{}
	gets.mu.Unlock()

	share := pipeline.NewLayerShare(t.TempDir())
	defer share.Close()
	base := pipeline.WithLayerShare(context.Background(), share)
	lr := pipeline.SharedLayers(c)

	started := make(chan struct{}) // the other reader has bytes of layer 0
	cancelled := make(chan struct{})
	var got []string
	var gotErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		gotErr = lr.ReadLayers(base, ref, func(_ int, _ string, r io.Reader) error {
			h := sha256.New()
			if first {
				first = false
				if _, err := io.CopyN(h, r, 1024); err != nil {
					return err
				}
				close(started)
				<-cancelled
			}
			if _, err := io.Copy(h, r); err != nil {
				return err
			}
			got = append(got, hex.EncodeToString(h.Sum(nil)))
			return nil
		})
	}()

	<-started
	ctx, cancel := context.WithCancelCause(base)
	stop := errors.New("the test stopped reading")
	err = lr.ReadLayers(ctx, ref, func(_ int, _ string, r io.Reader) error {
		if _, err := io.CopyN(io.Discard, r, 1024); err != nil {
			return err
		}
		cancel(stop)
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, stop) {
		t.Errorf("the cancelled reader: %v, want %v", err, stop)
	}
	close(cancelled)
	<-done
	if gotErr != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the other reader: %v %v, want %v", got, gotErr, want)
	}
	n := gets.counts()
	for _, d := range digests {
		if n[d] != 1 {
			t.Errorf("layer %s: %d GET(s) from the registry, want 1 (all: %v)", d, n[d], n)
		}
	}
}

// TestSharedLayersCutShort: a layer the registry cuts short fails every
// reader that follows it, and a later reader reads it again.
func TestSharedLayersCutShort(t *testing.T) {
	ref, c, gets, _ := sharedFixture(t)
	want, err := hashLayers(context.Background(), c, ref)
	if err != nil {
		t.Fatal(err)
	}
	gets.mu.Lock()
	gets.cut, gets.hold = 1, make(chan struct{})
	gets.mu.Unlock()

	share := pipeline.NewLayerShare(t.TempDir())
	defer share.Close()
	ctx := pipeline.WithLayerShare(context.Background(), share)
	lr := pipeline.SharedLayers(c)
	// Both readers are in layer 0 before the registry's answer fails.
	var wg, in sync.WaitGroup
	errs := make([]error, 2)
	in.Add(len(errs))
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = lr.ReadLayers(ctx, ref, func(index int, _ string, r io.Reader) error {
				if index == 0 {
					in.Done()
				}
				_, err := io.Copy(io.Discard, r)
				return err
			})
		}()
	}
	in.Wait()
	close(gets.hold)
	wg.Wait()
	for i, err := range errs {
		t.Logf("reader %d: %v", i, err)
		if err == nil || !strings.Contains(err.Error(), "layer 0") {
			t.Errorf("reader %d of a layer cut short: %v, want an error naming layer 0", i, err)
		}
	}
	if again, err := hashLayers(ctx, lr, ref); err != nil || fmt.Sprint(again) != fmt.Sprint(want) {
		t.Errorf("a reader after the failed download: %v %v, want %v", again, err, want)
	}
}

// TestSharedLayersLastReaderLeaves: when the only reader of a download
// leaves in the middle, the download stops, and the next reader starts
// another that reads the image whole.
func TestSharedLayersLastReaderLeaves(t *testing.T) {
	ref, c, _, _ := sharedFixture(t)
	want, err := hashLayers(context.Background(), c, ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	share := pipeline.NewLayerShare(dir)
	base := pipeline.WithLayerShare(context.Background(), share)
	lr := pipeline.SharedLayers(c)
	ctx, cancel := context.WithCancel(base)
	err = lr.ReadLayers(ctx, ref, func(_ int, _ string, r io.Reader) error {
		if _, err := io.CopyN(io.Discard, r, 1024); err != nil {
			return err
		}
		cancel()
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled reader: %v, want context.Canceled", err)
	}
	// The stopped download's files go as it ends, not at Close.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := 0
		filepath.WalkDir(dir, func(_ string, d fs.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d file(s) of the stopped download are left", n)
		}
	}
	if got, err := hashLayers(base, lr, ref); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the next reader: %v %v, want %v", got, err, want)
	}
	if err := share.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d file(s) left after Close", len(left))
	}
}
