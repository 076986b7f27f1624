package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hoistci/hoist/internal/pipeline"
)

// On Kubernetes there is no local image store: the registry is it (Ref).
// An image is "there" when its registry has it, a push is the build's
// own, and a node pulls an image when a pod starts from it.

// Push returns the manifest digest of ref (mapped by Ref) in its
// registry: Build pushed it already. An image that is not there is an
// error wrapping pipeline.ErrNotFound.
func (x *Executor) Push(ctx context.Context, ref string, log io.Writer) (string, error) {
	desc, err := x.headImage(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	if log != nil {
		fmt.Fprintf(log, "%s: digest: %s (pushed by the build)\n", x.Ref(ref), desc.Digest)
	}
	return desc.Digest.String(), nil
}

// Pull checks that ref is in its registry: the node pulls it when a pod
// starts from it, with the node's own credentials (on k3s, its
// registries.yaml), not Hoist's.
func (x *Executor) Pull(ctx context.Context, ref string, log io.Writer) error {
	desc, err := x.headImage(ctx, ref)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	if log != nil {
		fmt.Fprintf(log, "%s: digest: %s (the node pulls it when a pod starts)\n", x.Ref(ref), desc.Digest)
	}
	return nil
}

// InspectImage reads the configuration of ref (mapped by Ref) from its
// registry. ID and Digest are both the manifest digest (Build's image
// ID); Size is the compressed layers' sum. An image that is not there is
// an error wrapping pipeline.ErrNotFound.
func (x *Executor) InspectImage(ctx context.Context, ref string) (pipeline.ImageConfig, error) {
	r, err := x.imageRef(ref)
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	desc, err := remote.Get(r, append(x.remoteOpts(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))...)
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("inspecting image %s: %w", ref, registryErr(r, err))
	}
	img, err := desc.Image()
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("inspecting image %s: %w", ref, registryErr(r, err))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("inspecting image %s: reading its configuration: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("inspecting image %s: reading its manifest: %w", ref, err)
	}
	out := pipeline.ImageConfig{ID: desc.Digest.String(), Digest: desc.Digest.String()}
	for _, l := range m.Layers {
		out.Size += l.Size
	}
	c := cf.Config
	if len(c.Entrypoint) > 0 {
		out.Entrypoint = c.Entrypoint
	}
	out.Cmd, out.User, out.WorkingDir, out.Env, out.Labels = c.Cmd, c.User, c.WorkingDir, c.Env, c.Labels
	for p := range c.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	slices.Sort(out.ExposedPorts)
	for v := range c.Volumes {
		out.Volumes = append(out.Volumes, v)
	}
	slices.Sort(out.Volumes)
	return out, nil
}

// ImageExists reports whether ref (mapped by Ref) is in its registry.
func (x *Executor) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := x.headImage(ctx, ref)
	if errors.Is(err, pipeline.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking for image %s: %w", ref, err)
	}
	return true, nil
}

// RemoveImage deletes the manifest a name without a registry ("app:test")
// is kept under in Options.Registry (every tag of that repository on the
// same manifest goes with it: a registry deletes manifests, not tags).
// Image IDs (digests) and names in other registries are left alone: they
// name nothing Hoist made locally. Not-found is not an error.
func (x *Executor) RemoveImage(ctx context.Context, id string) error {
	if strings.HasPrefix(id, "sha256:") || registryHost(id) != "" {
		return nil
	}
	desc, err := x.headImage(ctx, id)
	if errors.Is(err, pipeline.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing image %s: %w", id, err)
	}
	r, _ := x.imageRef(id) // head parsed it
	d := r.Context().Digest(desc.Digest.String())
	if err := remote.Delete(d, x.remoteOpts(ctx)...); err != nil {
		if err := registryErr(d, err); !errors.Is(err, pipeline.ErrNotFound) {
			return fmt.Errorf("removing image %s: %w", id, err)
		}
	}
	return nil
}

// headImage is the descriptor of ref (mapped by Ref) in its registry.
func (x *Executor) headImage(ctx context.Context, ref string) (*v1.Descriptor, error) {
	r, err := x.imageRef(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Head(r, x.remoteOpts(ctx)...)
	if err != nil {
		return nil, registryErr(r, err)
	}
	return desc, nil
}

// imageRef is the reference Ref maps ref to, plain HTTP allowed when
// Options.Insecure.
func (x *Executor) imageRef(ref string) (name.Reference, error) {
	opts := x.nameOpts()
	mapped := x.Ref(ref)
	if strings.HasPrefix(mapped, "/") {
		return nil, fmt.Errorf("image %s names no registry, and the executor has none to keep it in (--registry)", ref)
	}
	r, err := name.ParseReference(mapped, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

// remoteOpts are the options of registry calls: ctx and the keychain.
func (x *Executor) remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(x.keychainOrAnon())}
}

// registryErr wraps pipeline.ErrNotFound into a registry's "no such
// manifest or repository" answer.
func registryErr(r name.Reference, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || hasErrorCode(terr, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode)) {
		return fmt.Errorf("%s is not in registry %s: %w", r, r.Context().RegistryStr(), pipeline.ErrNotFound)
	}
	return err
}

func hasErrorCode(terr *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		if slices.Contains(codes, d.Code) {
			return true
		}
	}
	return false
}

// keepPins stores each parent spec.From pins under its FROM name in the
// registry standing in for a local store (for names without a registry of
// their own), as a Docker engine pulls a pin and tags it locally: what
// later asks for the name (a compose autotest service's image, a child's
// FROM) finds the pinned image. Layers are mounted from the pin's
// repository, not uploaded, when both are in one registry. A name that
// has the pin already is left alone, and the writes of builds running at
// once take turns: concurrent writes of one manifest make a registry (the
// distribution registry on a filesystem) answer DIGEST_INVALID and
// MANIFEST_BLOB_UNKNOWN while it rewrites its links.
func (x *Executor) keepPins(ctx context.Context, from map[string]string) error {
	x.pinMu.Lock()
	defer x.pinMu.Unlock()
	for n, pin := range from {
		if registryHost(n) != "" || x.opts.Registry == "" {
			continue
		}
		src, err := name.ParseReference(pin, x.nameOpts()...)
		if err != nil {
			return fmt.Errorf("FROM %s, pinned to %s: %w", n, pin, err)
		}
		dst, err := x.imageRef(n)
		if err != nil {
			return err
		}
		desc, err := remote.Get(src, x.remoteOpts(ctx)...)
		if err != nil {
			return fmt.Errorf("FROM %s, pinned to %s: %w", n, pin, registryErr(src, err))
		}
		if kept, err := remote.Head(dst, x.remoteOpts(ctx)...); err == nil && kept.Digest == desc.Digest {
			continue
		}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err == nil {
				err = remote.WriteIndex(dst, idx, x.remoteOpts(ctx)...)
			}
			if err != nil {
				return fmt.Errorf("keeping %s (pinned to %s) as %s: %w", n, pin, dst, err)
			}
			continue
		}
		img, err := desc.Image()
		if err == nil {
			err = remote.Write(dst, img, x.remoteOpts(ctx)...)
		}
		if err != nil {
			return fmt.Errorf("keeping %s (pinned to %s) as %s: %w", n, pin, dst, err)
		}
	}
	return nil
}

// nameOpts allow plain HTTP when Options.Insecure.
func (x *Executor) nameOpts() []name.Option {
	if x.opts.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}
