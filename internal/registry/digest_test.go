package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestDigestPingsOnce: resolving tags in many repositories of a registry
// that asks for no token pings it once, not once per tag; a registry that
// hands out tokens (the embedded one, private) is still asked per
// repository, with Hoist's credentials.
func TestDigestPingsOnce(t *testing.T) {
	host := ggcrRegistry(t)
	want := map[string]string{}
	for i := range 5 {
		ref := fmt.Sprintf("%s/ns/app%d:latest", host, i)
		want[ref] = pushImage(t, ref)
	}
	cnt := newCounter()
	c := New(Options{Keychain: anonymous, Transport: cnt})
	for ref, d := range want {
		if got, err := c.Digest(context.Background(), ref); err != nil || got != d {
			t.Errorf("Digest(%s) = %s, %v; want %s", ref, got, err, d)
		}
	}
	if _, err := c.Digest(context.Background(), host+"/ns/app0:gone"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("Digest of a missing tag: %v, want ErrNotFound", err)
	}
	// One ping to see that it asks for no token, one to set up: each over
	// HTTPS and plain HTTP (a loopback registry).
	if pings := cnt.count("GET ping"); pings > 4 {
		t.Errorf("%d pings (GET /v2/) for 6 tags in 5 repositories, want at most 4: %v", pings, cnt.all())
	}

	s := serveAccess(t, AccessPrivate, t.TempDir())
	private := New(Options{Keychain: s.Keychain(nil)})
	for i := range 2 {
		ref := fmt.Sprintf("%s/demo/app%d:test", s.Addr(), i)
		if err := write(t, ref, s.Keychain(nil)); err != nil {
			t.Fatal(err)
		}
		if _, err := private.Digest(context.Background(), ref); err != nil {
			t.Errorf("Digest(%s) of a private registry: %v", ref, err)
		}
	}
	if _, err := New(Options{Keychain: anonymous}).Digest(context.Background(), s.Addr()+"/demo/app0:test"); err == nil {
		t.Error("an anonymous Digest of a private registry worked")
	}
}

// TestDeliveryPingsOnce: what a build asks of a registry that asks for no
// token (its image's configuration and layers, the SBOM attached, :rc and
// the final tag, the digests checked) pings it once, as Digest does, not
// once per call; each call still works.
func TestDeliveryPingsOnce(t *testing.T) {
	ctx := context.Background()
	host := ggcrRegistry(t)
	src := host + "/ns/app:test"
	d := pushImage(t, src)
	cnt := newCounter()
	c := New(Options{Keychain: anonymous, Transport: cnt})
	if _, err := c.RemoteConfig(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadLayers(ctx, src, func(int, string, io.Reader) error { return nil }); err != nil {
		t.Fatal(err)
	}
	byDigest := host + "/ns/app@" + d
	if _, err := c.Attach(ctx, byDigest, "application/vnd.test+json", "application/json", []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	if refs, err := c.Referrers(ctx, byDigest, ""); err != nil || len(refs) != 1 {
		t.Errorf("Referrers = %v, %v; want the one attached", refs, err)
	}
	for _, tag := range []string{"rc", "latest"} {
		if got, err := c.Tag(ctx, byDigest, host+"/ns/app:"+tag); err != nil || got != d {
			t.Fatalf("Tag :%s = %s, %v; want %s", tag, got, err, d)
		}
		if got, err := c.Digest(ctx, host+"/ns/app:"+tag); err != nil || got != d {
			t.Errorf("Digest :%s = %s, %v; want %s", tag, got, err, d)
		}
	}
	if _, err := c.RemoteConfig(ctx, host+"/ns/app:gone"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("RemoteConfig of a missing tag: %v, want ErrNotFound", err)
	}
	if pings := cnt.count("GET ping"); pings > 4 {
		t.Errorf("%d pings (GET /v2/) for a build's calls, want at most 4: %v", pings, cnt.all())
	}
}
