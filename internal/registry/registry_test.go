package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// The same checks run against every registry implementation we meet.

func TestClientGGCRRegistry(t *testing.T)   { testClient(t, ggcrRegistry(t)) }
func TestClientEmbeddedServer(t *testing.T) { testClient(t, embedded(t)) }
func TestClientDockerRegistry(t *testing.T) { testClient(t, testenv.DockerRegistry(t)) }

func testClient(t *testing.T, host string) {
	t.Run("TagInRepository", func(t *testing.T) { testTagInRepository(t, host) })
	t.Run("TagByDigest", func(t *testing.T) { testTagByDigest(t, host) })
	t.Run("TagAcrossRepositories", func(t *testing.T) { testTagAcrossRepositories(t, host) })
	t.Run("TagIndex", func(t *testing.T) { testTagIndex(t, host) })
	t.Run("DigestNotFound", func(t *testing.T) { testDigestNotFound(t, host) })
	t.Run("TagMissingSource", func(t *testing.T) { testTagMissingSource(t, host) })
}

// countingClient returns a Client whose requests c counts.
func countingClient() (*Client, *counter) {
	c := newCounter()
	return New(Options{Keychain: anonymous, Transport: c, UserAgent: "hoist-test"}), c
}

func testTagInRepository(t *testing.T, host string) {
	want := pushImage(t, host+"/ns/app:test")
	client, c := countingClient()
	got, err := client.Tag(context.Background(), host+"/ns/app:test", host+"/ns/app:rc")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Tag = %s, want %s", got, want)
	}
	if n := c.count(blobWrites...); n != 0 {
		t.Errorf("%d blob writes, want 0: %v", n, c.all())
	}
	if n := c.count("PUT manifest"); n != 1 {
		t.Errorf("%d manifest PUTs, want 1: %v", n, c.all())
	}
	if n := c.count("GET blob"); n != 0 {
		t.Errorf("%d blob GETs, want 0 (nothing pulled): %v", n, c.all())
	}
	assertDigest(t, host+"/ns/app:rc", want)
}

func testTagByDigest(t *testing.T, host string) {
	want := pushImage(t, host+"/ns/bydigest:test")
	client, _ := countingClient()
	got, err := client.Tag(context.Background(), host+"/ns/bydigest@"+want, host+"/ns/bydigest:latest")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Tag = %s, want %s", got, want)
	}
}

func testTagAcrossRepositories(t *testing.T, host string) {
	want := pushImage(t, host+"/ns/src:test")
	client, c := countingClient()
	got, err := client.Tag(context.Background(), host+"/ns/src:test", host+"/other/dst:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Tag = %s, want %s", got, want)
	}
	// A mount is a POST with ?mount=; data would need a PATCH or a PUT.
	if n := c.count("PATCH upload", "PUT upload"); n != 0 {
		t.Errorf("%d blob data uploads, want 0 (mounted): %v", n, c.all())
	}
	if n := c.count("GET blob"); n != 0 {
		t.Errorf("%d blob GETs, want 0 (nothing pulled): %v", n, c.all())
	}
	validateRemote(t, host+"/other/dst:1.0")
}

func testTagIndex(t *testing.T, host string) {
	want := pushIndex(t, host+"/ns/multi:test")
	client, c := countingClient()
	got, err := client.Tag(context.Background(), host+"/ns/multi:test", host+"/ns/multi:rc")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Tag = %s, want %s", got, want)
	}
	if n := c.count("PUT manifest"); n != 1 {
		t.Errorf("%d manifest PUTs in one repository, want 1: %v", n, c.all())
	}
	client, c = countingClient()
	got, err = client.Tag(context.Background(), host+"/ns/multi:rc", host+"/other/multi:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Tag across repositories = %s, want %s", got, want)
	}
	if n := c.count("PATCH upload", "PUT upload"); n != 0 {
		t.Errorf("%d blob data uploads, want 0 (mounted): %v", n, c.all())
	}
	validateRemoteIndex(t, host+"/other/multi:1.0")
}

func testDigestNotFound(t *testing.T, host string) {
	pushImage(t, host+"/ns/present:test")
	client, _ := countingClient()
	for _, ref := range []string{host + "/ns/present:missing", host + "/nobody/here:latest"} {
		_, err := client.Digest(context.Background(), ref)
		if !errors.Is(err, pipeline.ErrNotFound) {
			t.Errorf("Digest(%s) = %v, want ErrNotFound", ref, err)
		}
	}
}

func testTagMissingSource(t *testing.T, host string) {
	client, _ := countingClient()
	_, err := client.Tag(context.Background(), host+"/ns/absent:test", host+"/ns/absent:rc")
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("Tag of a missing image = %v, want ErrNotFound", err)
	}
}

func TestTagAcrossRegistries(t *testing.T) {
	from, to := ggcrRegistry(t), embedded(t)
	want := pushImage(t, from+"/ns/app:test")
	client, _ := countingClient()
	got, err := client.Tag(context.Background(), from+"/ns/app:test", to+"/ns/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Tag = %s, want %s", got, want)
	}
	validateRemote(t, to+"/ns/app:1.0")
}

func TestTagRefusesDigestDestination(t *testing.T) {
	host := ggcrRegistry(t)
	d := pushImage(t, host+"/ns/app:test")
	client, _ := countingClient()
	if _, err := client.Tag(context.Background(), host+"/ns/app:test", host+"/ns/app@"+d); err == nil {
		t.Error("Tag to a digest reference succeeded, want an error")
	}
}

func assertDigest(t *testing.T, ref, want string) {
	t.Helper()
	client, _ := countingClient()
	got, err := client.Digest(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Digest(%s) = %s, want %s", ref, got, want)
	}
}

// validateRemote pulls ref completely and checks every blob.
func validateRemote(t *testing.T, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("%s: %v", ref, err)
	}
}

func validateRemoteIndex(t *testing.T, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("%s: %v", ref, err)
	}
}
