package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hoistci/hoist/internal/pipeline"
)

// OCI 1.1 referrers have two sides: here the Client attaches artifacts to
// images and lists them; in referrers_api.go the embedded registry, whose
// distribution has no referrers API, gets one in front of it.
//
// The embedded registry keeps each subject's referrers where the
// distribution-spec's tag-schema fallback keeps them, in an image index
// tagged <alg>-<hex> in the subject's repository, so that tools which only
// know the fallback find them too. Clients cannot be relied on to maintain
// that index: go-containerregistry and oras skip it as soon as GET
// /v2/<name>/referrers/<digest> answers 200, which it now does. So the
// registry maintains it itself, when a manifest with a subject is PUT or
// deleted, and says so with the OCI-Subject header the spec asks for.

var _ pipeline.Referrers = (*Client)(nil)

// annotationCreated is the OCI annotation for when an artifact was made.
const annotationCreated = "org.opencontainers.image.created"

// emptyJSON is the OCI empty descriptor's content, an artifact's config.
var emptyJSON = []byte("{}")

// Attach pushes data as an OCI 1.1 artifact of artifactType (an image
// manifest with the empty config and data as its one layer, of mediaType)
// whose subject is the image subject names, and returns the artifact
// manifest's digest. The subject must exist: its media type and size come
// from the registry. go-containerregistry updates the tag-schema fallback
// index when the registry has no referrers API.
func (c *Client) Attach(ctx context.Context, subject, artifactType, mediaType string, data []byte, annotations map[string]string) (string, error) {
	var d string
	err := retryTransient(ctx, func() (err error) {
		d, err = c.attach(ctx, subject, artifactType, mediaType, data, annotations)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("attaching a %s artifact to %s: %w", artifactType, subject, err)
	}
	return d, nil
}

func (c *Client) attach(ctx context.Context, subject, artifactType, mediaType string, data []byte, annotations map[string]string) (string, error) {
	if artifactType == "" || mediaType == "" {
		return "", errors.New("the artifact type and the data's media type must both be set")
	}
	r, err := c.parse(subject)
	if err != nil {
		return "", err
	}
	reg := r.Context().Registry
	var d string
	err = c.on(ctx, reg, reg, func(opts []remote.Option) (err error) {
		d, err = c.attachWith(opts, r, artifactType, mediaType, data, annotations)
		return err
	})
	return d, err
}

// attachWith is attach's requests, with opts.
func (c *Client) attachWith(opts []remote.Option, r name.Reference, artifactType, mediaType string, data []byte, annotations map[string]string) (string, error) {
	sub, err := remote.Head(r, opts...)
	if err != nil {
		err = explain(r, err)
		if errors.Is(err, pipeline.ErrNotFound) {
			return "", fmt.Errorf("the subject image is not in the registry (push it first): %w", err)
		}
		return "", fmt.Errorf("reading the subject image: %w", err)
	}
	repo := r.Context()
	config := static.NewLayer(emptyJSON, types.OCIEmptyJSON)
	layer := static.NewLayer(data, types.MediaType(mediaType))
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Annotations:   map[string]string{annotationCreated: time.Now().UTC().Format(time.RFC3339)},
		Subject:       &v1.Descriptor{MediaType: sub.MediaType, Digest: sub.Digest, Size: sub.Size},
	}
	maps.Copy(m.Annotations, annotations)
	for i, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return "", fmt.Errorf("uploading the artifact's blobs: %w", explain(r, err))
		}
		desc, err := partialDescriptor(l)
		if err != nil {
			return "", err
		}
		if i == 0 {
			m.Config = desc
		} else {
			m.Layers = []v1.Descriptor{desc}
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	ref := repo.Digest(h.String())
	if err := remote.Put(ref, rawManifest{raw, types.OCIManifestSchema1}, opts...); err != nil {
		return "", fmt.Errorf("pushing the artifact manifest: %w", explain(ref, err))
	}
	return h.String(), nil
}

// partialDescriptor describes a static layer.
func partialDescriptor(l v1.Layer) (v1.Descriptor, error) {
	d, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := l.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}, nil
}

// rawManifest is a manifest to PUT as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// Referrers lists the artifacts referring to subject (host/repo@digest, or
// a tag, which is resolved first), of artifactType ("" for all), through the
// registry's referrers API or else the tag-schema fallback. None is not an
// error, and neither is a subject that does not exist when named by digest.
func (c *Client) Referrers(ctx context.Context, subject, artifactType string) ([]pipeline.Referrer, error) {
	out, err := c.referrers(ctx, subject, artifactType)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", subject, err)
	}
	return out, nil
}

func (c *Client) referrers(ctx context.Context, subject, artifactType string) ([]pipeline.Referrer, error) {
	r, err := c.parse(subject)
	if err != nil {
		return nil, err
	}
	reg := r.Context().Registry
	var out []pipeline.Referrer
	err = c.on(ctx, reg, reg, func(opts []remote.Option) (err error) {
		out, err = referrersWith(opts, r, artifactType)
		return err
	})
	return out, err
}

// referrersWith is referrers' requests, with opts.
func referrersWith(opts []remote.Option, r name.Reference, artifactType string) ([]pipeline.Referrer, error) {
	d, ok := r.(name.Digest)
	if !ok {
		desc, err := remote.Head(r, opts...)
		if err != nil {
			return nil, explain(r, err)
		}
		d = r.Context().Digest(desc.Digest.String())
	}
	if artifactType != "" {
		opts = append(opts, remote.WithFilter("artifactType", artifactType))
	}
	idx, err := remote.Referrers(d, opts...)
	if err != nil {
		return nil, explain(d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []pipeline.Referrer
	for _, m := range im.Manifests {
		if artifactType != "" && m.ArtifactType != artifactType {
			continue
		}
		out = append(out, pipeline.Referrer{
			Digest:       m.Digest.String(),
			ArtifactType: m.ArtifactType,
			Size:         m.Size,
			Annotations:  m.Annotations,
		})
	}
	return out, nil
}

// FetchArtifact returns the content of the first layer of the artifact
// manifest at ref (host/repo@digest), checked against its digest.
func (c *Client) FetchArtifact(ctx context.Context, ref string) ([]byte, error) {
	b, err := c.fetchArtifact(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("fetching artifact %s: %w", ref, err)
	}
	return b, nil
}

func (c *Client) fetchArtifact(ctx context.Context, ref string) ([]byte, error) {
	r, err := c.parse(ref)
	if err != nil {
		return nil, err
	}
	opts := c.options(ctx)
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, explain(r, err)
	}
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("it is a %s, not an image manifest", desc.MediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("decoding its manifest: %w", err)
	}
	if len(m.Layers) == 0 {
		return nil, errors.New("its manifest has no layers")
	}
	l, err := remote.Layer(r.Context().Digest(m.Layers[0].Digest.String()), opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, explain(r, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, m.Layers[0].Size+1))
	if err != nil {
		return nil, fmt.Errorf("reading its layer %s: %w", m.Layers[0].Digest, err)
	}
	if int64(len(b)) != m.Layers[0].Size {
		return nil, fmt.Errorf("its layer %s has %d bytes, the manifest says %d", m.Layers[0].Digest, len(b), m.Layers[0].Size)
	}
	return b, nil
}
