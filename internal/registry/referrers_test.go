package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

const (
	sbomType = "application/vnd.cyclonedx+json"
	sigType  = "application/vnd.example.signature.v1"
)

// sbom is an SBOM-like document of about n bytes.
func sbom(n int) []byte {
	return []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"` +
		strings.Repeat("x", n) + `"}]}`)
}

// headers records the response headers of manifest PUTs.
type headers struct {
	mu  sync.Mutex
	put []http.Header
}

func (h *headers) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
		h.mu.Lock()
		h.put = append(h.put, resp.Header.Clone())
		h.mu.Unlock()
	}
	return resp, err
}

// get does a plain HTTP GET of path on host.
func get(t *testing.T, host, path string, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// referrersAPI lists subject's referrers with a plain GET of the referrers
// API, query included, and checks the answer's form.
func referrersAPI(t *testing.T, host, repo, subject, query string) (v1.IndexManifest, http.Header) {
	t.Helper()
	resp, b := get(t, host, "/v2/"+repo+"/referrers/"+subject+query, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET referrers%s: %s %s", query, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != string(types.OCIImageIndex) {
		t.Errorf("GET referrers%s: Content-Type %q, want %q", query, ct, types.OCIImageIndex)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("GET referrers%s: %v in %s", query, err, b)
	}
	if string(raw["manifests"]) == "null" || raw["manifests"] == nil {
		t.Errorf("GET referrers%s: manifests is %s, want a list", query, raw["manifests"])
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	if im.SchemaVersion != 2 || im.MediaType != types.OCIImageIndex {
		t.Errorf("GET referrers%s: schemaVersion %d mediaType %q, want 2 and an OCI index", query, im.SchemaVersion, im.MediaType)
	}
	return im, resp.Header
}

func digests(ds []v1.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String())
	}
	return out
}

func TestAttachEmbedded(t *testing.T) {
	ctx := context.Background()
	host := embedded(t)
	subject := pushImage(t, host+"/ns/app:1")
	other := pushImage(t, host+"/ns/app:2")
	rec := &headers{}
	c := New(Options{Keychain: anonymous, Transport: rec})
	doc := sbom(100)

	art, err := c.Attach(ctx, host+"/ns/app@"+subject, sbomType, sbomType, doc, map[string]string{"org.example.tool": "hoist"})
	if err != nil {
		t.Fatal(err)
	}
	// The registry processed the subject, and said so.
	var saw bool
	for _, h := range rec.put {
		saw = saw || h.Get("OCI-Subject") == subject
	}
	if !saw {
		t.Errorf("no manifest PUT answered OCI-Subject: %s", subject)
	}

	// The artifact manifest is an OCI 1.1 artifact of the image.
	resp, raw := get(t, host, "/v2/ns/app/manifests/"+art, string(types.OCIManifestSchema1))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the artifact manifest: %s", resp.Status)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	subDesc, err := remote.Head(mustRef(t, host+"/ns/app@"+subject))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case m.ArtifactType != sbomType:
		t.Errorf("artifactType %q, want %q", m.ArtifactType, sbomType)
	case m.Config.MediaType != types.OCIEmptyJSON || m.Config.Size != 2 ||
		m.Config.Digest.String() != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a":
		t.Errorf("config %+v, want the OCI empty descriptor", m.Config)
	case len(m.Layers) != 1 || m.Layers[0].MediaType != sbomType || m.Layers[0].Size != int64(len(doc)):
		t.Errorf("layers %+v, want one %s of %d bytes", m.Layers, sbomType, len(doc))
	case m.Subject == nil || m.Subject.Digest.String() != subject || m.Subject.Size != subDesc.Size ||
		m.Subject.MediaType != subDesc.MediaType:
		t.Errorf("subject %+v, want %s (%s, %d bytes)", m.Subject, subject, subDesc.MediaType, subDesc.Size)
	case m.Annotations["org.example.tool"] != "hoist" || m.Annotations[annotationCreated] == "":
		t.Errorf("annotations %v, want org.example.tool and %s", m.Annotations, annotationCreated)
	}

	// The referrers API, with a plain GET.
	im, h := referrersAPI(t, host, "ns/app", subject, "")
	if len(im.Manifests) != 1 {
		t.Fatalf("referrers API lists %v, want %s", digests(im.Manifests), art)
	}
	d := im.Manifests[0]
	if d.Digest.String() != art || d.ArtifactType != sbomType || d.MediaType != types.OCIManifestSchema1 ||
		d.Size != int64(len(raw)) || d.Annotations["org.example.tool"] != "hoist" {
		t.Errorf("referrers API descriptor %+v, want %s, %s, %d bytes, with its annotations", d, art, sbomType, len(raw))
	}
	if h.Get("OCI-Filters-Applied") != "" {
		t.Errorf("OCI-Filters-Applied %q with no filter", h.Get("OCI-Filters-Applied"))
	}
	// Another image of the repository has none, and says so with 200.
	if im, _ := referrersAPI(t, host, "ns/app", other, ""); len(im.Manifests) != 0 {
		t.Errorf("referrers of an image with none: %v", digests(im.Manifests))
	}

	// go-containerregistry through the API only, no tag fallback.
	sub, err := name.NewDigest(host+"/ns/app@"+subject, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(sub, remote.WithReferrersTagFallback(false))
	if err != nil {
		t.Fatalf("ggcr referrers through the API only: %v", err)
	}
	if got, _ := idx.IndexManifest(); len(got.Manifests) != 1 || got.Manifests[0].Digest.String() != art {
		t.Errorf("ggcr referrers through the API: %v, want [%s]", digests(got.Manifests), art)
	}

	// The tag-schema fallback index holds it too, for tools that only know it.
	fb, err := remote.Index(mustRef(t, host+"/ns/app:"+strings.Replace(subject, ":", "-", 1)))
	if err != nil {
		t.Fatalf("reading the fallback tag: %v", err)
	}
	if got, _ := fb.IndexManifest(); len(got.Manifests) != 1 || got.Manifests[0].Digest.String() != art {
		t.Errorf("fallback tag index: %v, want [%s]", digests(got.Manifests), art)
	}

	// The Client lists it (by digest and by tag) and fetches it back.
	for _, s := range []string{host + "/ns/app@" + subject, host + "/ns/app:1"} {
		refs, err := c.Referrers(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 1 || refs[0].Digest != art || refs[0].ArtifactType != sbomType || refs[0].Size != int64(len(raw)) {
			t.Errorf("Referrers(%s) = %+v, want %s", s, refs, art)
		}
	}
	got, err := c.FetchArtifact(ctx, host+"/ns/app@"+art)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, doc) {
		t.Errorf("FetchArtifact: %d bytes, want the %d attached", len(got), len(doc))
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testTwoArtifacts attaches two artifacts of different types to one image
// on host and lists them all and by type.
func testTwoArtifacts(t *testing.T, host string) (subject, bom, sig string) {
	ctx := context.Background()
	subject = pushImage(t, host+"/ns/two:1")
	c := New(Options{Keychain: anonymous})
	sub := host + "/ns/two@" + subject
	doc := sbom(2 << 20) // MBs, as SBOMs can be
	var err error
	if bom, err = c.Attach(ctx, sub, sbomType, sbomType, doc, nil); err != nil {
		t.Fatal(err)
	}
	if sig, err = c.Attach(ctx, sub, sigType, "application/octet-stream", []byte{0, 1, 2}, nil); err != nil {
		t.Fatal(err)
	}
	all, err := c.Referrers(ctx, sub, "")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, r := range all {
		found[r.Digest] = r.ArtifactType
	}
	if len(all) != 2 || found[bom] != sbomType || found[sig] != sigType {
		t.Errorf("Referrers = %+v, want %s (%s) and %s (%s)", all, bom, sbomType, sig, sigType)
	}
	for typ, want := range map[string]string{sbomType: bom, sigType: sig} {
		got, err := c.Referrers(ctx, sub, typ)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Digest != want {
			t.Errorf("Referrers of type %s = %+v, want only %s", typ, got, want)
		}
	}
	if got, err := c.Referrers(ctx, sub, "application/vnd.none"); err != nil || len(got) != 0 {
		t.Errorf("Referrers of a type nobody attached = %+v, %v; want none", got, err)
	}
	if b, err := c.FetchArtifact(ctx, host+"/ns/two@"+bom); err != nil || !bytes.Equal(b, doc) {
		t.Errorf("FetchArtifact of the 2 MB SBOM: %d bytes, %v", len(b), err)
	}
	if b, err := c.FetchArtifact(ctx, host+"/ns/two@"+sig); err != nil || !bytes.Equal(b, []byte{0, 1, 2}) {
		t.Errorf("FetchArtifact of the signature: %v, %v", b, err)
	}
	return subject, bom, sig
}

func TestTwoArtifactsEmbedded(t *testing.T) {
	host := embedded(t)
	subject, bom, sig := testTwoArtifacts(t, host)

	im, h := referrersAPI(t, host, "ns/two", subject, "")
	if len(im.Manifests) != 2 || h.Get("OCI-Filters-Applied") != "" {
		t.Errorf("referrers API: %v with OCI-Filters-Applied %q, want 2 and no filter", digests(im.Manifests), h.Get("OCI-Filters-Applied"))
	}
	im, h = referrersAPI(t, host, "ns/two", subject, "?artifactType="+sigType)
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != sig || h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("referrers API filtered by %s: %v with OCI-Filters-Applied %q, want [%s] and artifactType",
			sigType, digests(im.Manifests), h.Get("OCI-Filters-Applied"), sig)
	}

	// Deleting an artifact takes it off the list.
	req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/ns/two/manifests/"+bom, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE the SBOM artifact: %s", resp.Status)
	}
	if im, _ := referrersAPI(t, host, "ns/two", subject, ""); len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != sig {
		t.Errorf("referrers after deleting %s: %v, want [%s]", bom, digests(im.Manifests), sig)
	}
}

func TestTwoArtifactsDockerRegistry(t *testing.T) {
	host := testenv.DockerRegistry(t)
	subject, bom, sig := testTwoArtifacts(t, host)

	// That registry has no referrers API: the tag-schema fallback was used.
	if resp, _ := get(t, host, "/v2/ns/two/referrers/"+subject, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("docker-registry's referrers API answered %s; the test expects it to have none", resp.Status)
	}
	fb, err := remote.Index(mustRef(t, host+"/ns/two:"+strings.Replace(subject, ":", "-", 1)))
	if err != nil {
		t.Fatalf("reading the fallback tag: %v", err)
	}
	got, _ := fb.IndexManifest()
	if ds := strings.Join(digests(got.Manifests), " "); len(got.Manifests) != 2 || !strings.Contains(ds, bom) || !strings.Contains(ds, sig) {
		t.Errorf("fallback tag index: %v, want %s and %s", ds, bom, sig)
	}
}

func TestAttachMissingSubject(t *testing.T) {
	ctx := context.Background()
	host := embedded(t)
	pushImage(t, host+"/ns/app:1")
	c := New(Options{Keychain: anonymous})
	missing := "sha256:" + strings.Repeat("0", 64)
	for _, sub := range []string{host + "/ns/app@" + missing, host + "/ns/app:nope", host + "/ns/nothing:1"} {
		_, err := c.Attach(ctx, sub, sbomType, sbomType, sbom(1), nil)
		if err == nil {
			t.Errorf("Attach to %s: no error", sub)
			continue
		}
		if !errors.Is(err, pipeline.ErrNotFound) || !strings.Contains(err.Error(), sub) ||
			!strings.Contains(err.Error(), "not in the registry (push it first)") {
			t.Errorf("Attach to %s: %v; want it to name the subject, say it is missing and wrap ErrNotFound", sub, err)
		}
	}
	// Nothing was attached to the missing digest.
	if refs, err := c.Referrers(ctx, host+"/ns/app@"+missing, ""); err != nil || len(refs) != 0 {
		t.Errorf("Referrers of a missing digest = %+v, %v; want none", refs, err)
	}
	if _, err := c.Referrers(ctx, host+"/ns/app:nope", ""); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("Referrers of a missing tag: %v, want ErrNotFound", err)
	}
	if _, err := c.Attach(ctx, host+"/ns/app:1", "", sbomType, nil, nil); err == nil {
		t.Errorf("Attach with no artifact type: no error")
	}
	// A missing artifact is an error that says so.
	if _, err := c.FetchArtifact(ctx, host+"/ns/app@"+missing); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("FetchArtifact of a missing manifest: %v, want ErrNotFound", err)
	}
}

func TestReferrersHandler(t *testing.T) {
	host := embedded(t)
	subject := pushImage(t, host+"/ns/app:1")
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v2/ns/app/referrers/sha256:nothex", http.StatusBadRequest, "DIGEST_INVALID"},
		{"/v2/ns/app/referrers/latest", http.StatusBadRequest, "DIGEST_INVALID"},
		{"/v2/NS/App/referrers/" + subject, http.StatusBadRequest, "NAME_INVALID"},
		{"/v2/ns/unknown/referrers/" + subject, http.StatusOK, ""},
		{"/v2/", http.StatusOK, ""},                                            // distribution's own
		{"/v2/ns/app/tags/list", http.StatusOK, ""},                            // distribution's own
		{"/v2/ns/app/manifests/nope", http.StatusNotFound, "MANIFEST_UNKNOWN"}, // distribution's own
	} {
		resp, b := get(t, host, tc.path, "")
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.code) {
			t.Errorf("GET %s: %s %s, want %d %s", tc.path, resp.Status, b, tc.status, tc.code)
		}
	}
	// A manifest PUT without a subject gets no OCI-Subject and no fallback tag.
	rec := &headers{}
	img := host + "/ns/plain:1"
	if _, err := New(Options{Keychain: anonymous, Transport: rec}).Tag(context.Background(), host+"/ns/app:1", img); err != nil {
		t.Fatal(err)
	}
	for _, h := range rec.put {
		if h.Get("OCI-Subject") != "" {
			t.Errorf("a manifest without a subject got OCI-Subject %q", h.Get("OCI-Subject"))
		}
	}
	if resp, _ := get(t, host, "/v2/ns/plain/tags/list", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("tags of ns/plain: %s", resp.Status)
	} else if _, b := get(t, host, "/v2/ns/plain/tags/list", ""); strings.Contains(string(b), "sha256-") {
		t.Errorf("a plain push made a fallback tag: %s", b)
	}
}

func TestSplitV2(t *testing.T) {
	for path, want := range map[string][3]string{
		"/v2/a/b/c/referrers/sha256:x":       {"a/b/c", "referrers", "sha256:x"},
		"/v2/a/referrers/b/manifests/latest": {"a/referrers/b", "manifests", "latest"},
		"/v2/a/manifests/":                   {},
		"/v2/a/blobs/sha256:x":               {},
		"/v1/a/manifests/x":                  {},
		"/v2/manifests/x":                    {},
	} {
		repo, kind, ref, ok := splitV2(path)
		if got := [3]string{repo, kind, ref}; got != want || ok != (want != [3]string{}) {
			t.Errorf("splitV2(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// TestConcurrentAttachEmbedded attaches artifacts to one image from several
// clients at once: the registry's index updates must lose none.
func TestConcurrentAttachEmbedded(t *testing.T) {
	ctx := context.Background()
	host := embedded(t)
	sub := host + "/ns/app@" + pushImage(t, host+"/ns/app:1")
	const n = 6
	var wg sync.WaitGroup
	arts := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c := New(Options{Keychain: anonymous})
			arts[i], errs[i] = c.Attach(ctx, sub, sigType, "text/plain", []byte(strings.Repeat("s", i+1)), nil)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	refs, err := New(Options{Keychain: anonymous}).Referrers(ctx, sub, sigType)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, r := range refs {
		listed[r.Digest] = true
	}
	for _, a := range arts {
		if !listed[a] {
			t.Errorf("artifact %s attached concurrently is not listed (%d of %d are)", a, len(refs), n)
		}
	}
}
