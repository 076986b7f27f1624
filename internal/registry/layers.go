package registry

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.LayerReader = (*Client)(nil)

// ReadLayers calls fn for each layer of ref, base first, with the layer's
// uncompressed tar stream, read from the registry as fn consumes it. An
// index (a multi-platform image) is read for linux/amd64, else its first
// manifest.
func (c *Client) ReadLayers(ctx context.Context, ref string, fn func(index int, digest string, tar io.Reader) error) error {
	r, err := c.parse(ref)
	if err != nil {
		return err
	}
	img, err := c.image(ctx, r)
	if err != nil {
		return explain(r, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading the layers of %s: %w", ref, err)
	}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("layer %d of %s: %w", i, ref, err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d (%s) of %s: %w", i, d, ref, err)
		}
		err = fn(i, d.String(), rc)
		// Drain what fn left, so a truncated layer is reported, not ignored.
		_, derr := io.Copy(io.Discard, rc)
		if cerr := rc.Close(); derr == nil {
			derr = cerr
		}
		if err != nil {
			return err
		}
		if derr != nil {
			return fmt.Errorf("layer %d (%s) of %s: %w", i, d, ref, derr)
		}
	}
	return nil
}

// image reads the image ref names; an index resolves to its linux/amd64
// image, or its first one.
func (c *Client) image(ctx context.Context, r name.Reference) (v1.Image, error) {
	reg := r.Context().Registry
	var desc *remote.Descriptor
	err := c.on(ctx, reg, reg, func(opts []remote.Option) (err error) {
		desc, err = remote.Get(r, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("%s is an empty image index", r)
	}
	pick := im.Manifests[0]
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" {
			pick = m
			break
		}
	}
	return idx.Image(pick.Digest)
}

// RemoteConfig reads ref's configuration from the registry, without an
// engine: what a re-scan of a delivered image needs.
func (c *Client) RemoteConfig(ctx context.Context, ref string) (pipeline.ImageConfig, error) {
	r, err := c.parse(ref)
	if err != nil {
		return pipeline.ImageConfig{}, err
	}
	img, err := c.image(ctx, r)
	if err != nil {
		return pipeline.ImageConfig{}, explain(r, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("reading the configuration of %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("reading the digest of %s: %w", ref, err)
	}
	id, _ := img.ConfigName()
	out := pipeline.ImageConfig{
		ID:         id.String(),
		Digest:     d.String(),
		Entrypoint: cf.Config.Entrypoint,
		Cmd:        cf.Config.Cmd,
		User:       cf.Config.User,
		WorkingDir: cf.Config.WorkingDir,
		Env:        cf.Config.Env,
		Labels:     cf.Config.Labels,
	}
	for p := range cf.Config.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	for v := range cf.Config.Volumes {
		out.Volumes = append(out.Volumes, v)
	}
	sort.Strings(out.ExposedPorts)
	sort.Strings(out.Volumes)
	layers, err := img.Layers()
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("reading the layers of %s: %w", ref, err)
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return pipeline.ImageConfig{}, fmt.Errorf("reading the layers of %s: %w", ref, err)
		}
		out.Size += n
	}
	return out, nil
}
