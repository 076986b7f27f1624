package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Push pushes the local image ref (host/repo:tag) to its registry with the
// keychain's credentials and returns the manifest digest the registry
// stored. Progress goes to log, one line per layer state change.
func (e *Engine) Push(ctx context.Context, ref string, log io.Writer) (string, error) {
	auth, err := e.registryAuth(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	e.log.Debug("pushing image", "ref", ref)
	res, err := e.cli.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	defer res.Close()
	var digest string
	err = decodeStream(res, log, func(aux json.RawMessage) {
		var v struct{ Tag, Digest string }
		if json.Unmarshal(aux, &v) == nil && v.Digest != "" {
			digest = v.Digest
		}
	})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	if digest == "" {
		return "", fmt.Errorf("pushing %s: the engine reported no manifest digest", ref)
	}
	return digest, nil
}

// PullAs pulls ref (host/repo@digest or host/repo:tag) with the keychain's
// credentials and tags it locally as alias.
func (e *Engine) PullAs(ctx context.Context, ref, alias string, log io.Writer) error {
	auth, err := e.registryAuth(ctx, ref)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	e.log.Debug("pulling image", "ref", ref, "alias", alias)
	res, err := e.cli.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer res.Close()
	if err := decodeStream(res, log, nil); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: alias}); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", ref, alias, err)
	}
	return nil
}

// InspectImage returns the configuration of the local image ref; the error
// wraps pipeline.ErrNotFound when there is no such image.
func (e *Engine) InspectImage(ctx context.Context, ref string) (pipeline.ImageConfig, error) {
	img, err := e.cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return pipeline.ImageConfig{}, fmt.Errorf("inspecting image %s: %w: %w", ref, pipeline.ErrNotFound, err)
	}
	if err != nil {
		return pipeline.ImageConfig{}, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	out := pipeline.ImageConfig{ID: img.ID, Size: img.Size}
	if c := img.Config; c != nil {
		out.Entrypoint = c.Entrypoint
		out.Cmd = c.Cmd
		out.User = c.User
		out.WorkingDir = c.WorkingDir
		out.Env = c.Env
		out.Labels = c.Labels
		for port := range c.ExposedPorts {
			out.ExposedPorts = append(out.ExposedPorts, port)
		}
		slices.Sort(out.ExposedPorts)
		for v := range c.Volumes {
			out.Volumes = append(out.Volumes, v)
		}
		slices.Sort(out.Volumes)
	}
	out.Digest = repoDigest(ref, img.RepoDigests)
	return out, nil
}

// repoDigest returns the manifest digest among repoDigests
// ("host/repo@sha256:…") that belongs to ref's repository, preferring ref's
// own digest when ref has one; "" when ref is an image ID or the image was
// never pushed to or pulled from that repository.
func repoDigest(ref string, repoDigests []string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	want := ""
	if d, ok := r.(name.Digest); ok {
		want = d.DigestStr()
	}
	found := ""
	for _, rd := range repoDigests {
		d, err := name.NewDigest(rd)
		if err != nil || d.Context().Name() != r.Context().Name() {
			continue
		}
		if want == "" || d.DigestStr() == want {
			return d.DigestStr()
		}
		if found == "" {
			found = d.DigestStr()
		}
	}
	return found
}
