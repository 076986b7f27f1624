package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// pushedDigest matches the status line a push ends with,
// "TAG: digest: sha256:… size: N", and captures the digest.
var pushedDigest = regexp.MustCompile(`(?:^|\s)digest: (sha256:[0-9a-f]{64})(?:\s|$)`)

// Push pushes the local image ref (host/repo:tag) to its registry with the
// keychain's credentials and returns the manifest digest the registry
// stored. Progress goes to log, one line per layer state change. A push the
// registry answers 429 or 5xx is tried again after 1, 2, 4, 8 and 16 s.
func (e *Engine) Push(ctx context.Context, ref string, log io.Writer) (string, error) {
	auth, err := e.registryAuth(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, labelled := e.labelsDue(ctx, ref) // labels the build left for the push (labelpush.go)
	for i := 0; ; i++ {
		digest, err := e.push(ctx, ref, auth, log)
		if err == nil && labelled {
			if digest, err = e.labelInRegistry(ctx, ref, digest, d.labels, log); err == nil {
				e.pushed(ref, digest)
			} else {
				err = fmt.Errorf("pushing %s: adding its labels in the registry: %w", ref, err)
			}
		}
		if err == nil || i == len(pushRetryDelays) || !transientPushError(err) {
			return digest, err
		}
		if log != nil {
			fmt.Fprintf(log, "push failed: %v; retrying in %v\n", err, pushRetryDelays[i])
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(pushRetryDelays[i]):
		}
	}
}

// pushRetryDelays are the waits before pushing again after the registry
// answered a push with a transient error (429, 5xx): the engine retries a
// layer upload itself, not a manifest it could not write.
var pushRetryDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}

// transientStatus matches the engine's text for a registry answer worth
// retrying: rate limited (429) or a server error (5xx), as dockerd and
// Podman ("StatusCode: 429") word it.
var transientStatus = regexp.MustCompile(`(?i)toomanyrequests|too many requests|unexpected http status: (429|5\d\d)|http (429|5\d\d) response|statuscode: (429|5\d\d)\b|\b50[0234] (internal server error|bad gateway|service unavailable|gateway timeout)`)

// transientPushError reports whether a push failed on a registry answer
// that a later attempt may not get.
func transientPushError(err error) bool {
	var ee *EngineError
	var te *transport.Error
	return errors.As(err, &ee) && transientStatus.MatchString(ee.Message) ||
		errors.As(err, &te) && (te.StatusCode == http.StatusTooManyRequests || te.StatusCode >= 500)
}

// push pushes ref once.
func (e *Engine) push(ctx context.Context, ref, auth string, log io.Writer) (string, error) {
	e.log.Debug("pushing image", "ref", ref)
	res, err := e.cli.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	defer res.Close()
	var digest, statusDigest string
	err = decodeStreamStatus(res, log, func(aux json.RawMessage) {
		var v struct{ Tag, Digest string }
		if json.Unmarshal(aux, &v) == nil && v.Digest != "" {
			digest = v.Digest
		}
	}, func(status string) {
		if m := pushedDigest.FindStringSubmatch(status); m != nil {
			statusDigest = m[1]
		}
	})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	if digest == "" {
		digest = statusDigest // Podman: no aux, only the status line
	}
	if digest == "" {
		return "", fmt.Errorf("pushing %s: the engine reported no manifest digest", ref)
	}
	return digest, nil
}

// Pull pulls ref (host/repo@digest or host/repo:tag) with the keychain's
// credentials; progress goes to log.
func (e *Engine) Pull(ctx context.Context, ref string, log io.Writer) error {
	auth, err := e.registryAuth(ctx, ref)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	e.log.Debug("pulling image", "ref", ref)
	if err := e.pull(ctx, ref, auth, log); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// PullAs pulls ref (host/repo@digest or host/repo:tag) with the keychain's
// credentials and tags it locally as alias: how a build's pinned FROM
// (BuildSpec.From) resolves to exactly ref. A ref by digest that the
// engine has already (pushed or pulled by this engine) is not pulled
// again: a digest names one image.
func (e *Engine) PullAs(ctx context.Context, ref, alias string, log io.Writer) error {
	if id := e.localDigest(ctx, ref); id != "" {
		if cur, err := e.cli.ImageInspect(ctx, alias); err == nil && cur.ID == id {
			fmt.Fprintf(orDiscard(log), "%s is in the engine as %s already\n", ref, alias)
			return nil
		}
		if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: alias}); err != nil {
			return fmt.Errorf("tagging %s as %s: %w", ref, alias, err)
		}
		fmt.Fprintf(orDiscard(log), "%s is in the engine already: tagged %s\n", ref, alias)
		return nil
	}
	auth, err := e.registryAuth(ctx, ref)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	e.log.Debug("pulling image", "ref", ref, "alias", alias)
	if err := e.pull(ctx, ref, auth, log); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: alias}); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", ref, alias, err)
	}
	return nil
}

// localDigest returns the ID of the engine's image that ref, a reference
// by digest, names, or "" when ref has no digest or the engine has no
// image by it. Podman's digests name its own manifests: it always pulls.
func (e *Engine) localDigest(ctx context.Context, ref string) string {
	if e.podman {
		return ""
	}
	d, err := name.NewDigest(ref)
	if err != nil {
		return ""
	}
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return ""
	}
	for _, rd := range img.RepoDigests {
		if l, err := name.NewDigest(rd); err == nil && l.Context().Name() == d.Context().Name() && l.DigestStr() == d.DigestStr() {
			return img.ID
		}
	}
	return ""
}

// pull pulls ref with the credentials auth.
func (e *Engine) pull(ctx context.Context, ref, auth string, log io.Writer) error {
	if e.podman {
		return e.libpodPull(ctx, ref, auth, log)
	}
	res, err := e.cli.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer res.Close()
	return decodeStream(res, log, nil)
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
		if len(c.Entrypoint) > 0 { // Podman says [] for none, Docker nil
			out.Entrypoint = c.Entrypoint
		}
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
	if !e.podman {
		// Podman's RepoDigests name the local manifest, not the registry's:
		// the digest is not known there.
		out.Digest = repoDigest(ref, img.RepoDigests)
	}
	if d, ok := e.labelsFor(ref, img.ID); ok {
		// The registry's copy has the labels the build left for the
		// push, and so another digest (labelpush.go).
		out.Labels = maps.Clone(out.Labels)
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		maps.Copy(out.Labels, d.labels)
		out.Digest = d.digest
	}
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
