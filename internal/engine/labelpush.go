package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Labels when pushed (BuildSpec.LabelsWhenPushed): dockerd's classic
// builder makes every instruction a step, with a container, a commit and
// a start of its own binary to unpack the step's (empty) layer, so the
// LABEL line Hoist would add costs a build a fifth of a second of CPU and
// as much time. Instead the build leaves it out, and Push adds the labels
// to the configuration of the image's copy in the registry: one small
// blob and a manifest, the layers untouched. The engine's own image lacks
// them; InspectImage of the tag shows them, as the registry does.

// labelsDue are the labels a build left for Push, by tag.
type labelsDue struct {
	mu sync.Mutex
	by map[string]due
}

type due struct {
	id     string // the image the tag named when it was built
	labels map[string]string
	digest string // the labelled manifest's, once pushed
}

// leaveLabels records that the image id, built with tags, lacks labels.
func (e *Engine) leaveLabels(tags []string, id string, labels map[string]string) {
	d := e.due
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.by == nil {
		d.by = map[string]due{}
	}
	for _, t := range tags {
		d.by[t] = due{id: id, labels: maps.Clone(labels)}
	}
}

// labelsFor returns what a build left for ref when ref still names the
// image id built then.
func (e *Engine) labelsFor(ref, id string) (due, bool) {
	if e.due == nil {
		return due{}, false
	}
	e.due.mu.Lock()
	defer e.due.mu.Unlock()
	d, ok := e.due.by[ref]
	return d, ok && d.id == id
}

// labelsDue returns what a build left for the push of ref, when ref still
// names the image built then.
func (e *Engine) labelsDue(ctx context.Context, ref string) (due, bool) {
	if e.due == nil {
		return due{}, false
	}
	e.due.mu.Lock()
	_, ok := e.due.by[ref]
	e.due.mu.Unlock()
	if !ok {
		return due{}, false
	}
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return due{}, false // the push says what is wrong
	}
	return e.labelsFor(ref, img.ID)
}

// pushed records the labelled digest of ref.
func (e *Engine) pushed(ref, digest string) {
	e.due.mu.Lock()
	defer e.due.mu.Unlock()
	if d, ok := e.due.by[ref]; ok {
		d.digest = digest
		e.due.by[ref] = d
	}
}

// labelInRegistry adds labels to the configuration of ref's manifest
// digest in the registry, tags the result as ref and returns its digest.
func (e *Engine) labelInRegistry(ctx context.Context, ref, digest string, labels map[string]string, log io.Writer) (string, error) {
	var opts []name.Option
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if pipeline.PlainHTTP(r.Context().RegistryStr(), e.insecure) {
		opts = append(opts, name.Insecure)
	}
	tag, err := name.NewTag(ref, opts...)
	if err != nil {
		return "", fmt.Errorf("%s names no tag: %w", ref, err)
	}
	// One puller and one pusher: each remote call of its own would ping
	// the registry first.
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(e.keychain)}
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return "", err
	}
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return "", err
	}
	desc, err := remote.Get(tag.Context().Digest(digest), append(ropts, remote.Reuse(puller))...)
	if err != nil {
		return "", fmt.Errorf("reading the manifest pushed: %w", err)
	}
	if desc.MediaType != types.DockerManifestSchema2 && desc.MediaType != types.OCIManifestSchema1 {
		return "", fmt.Errorf("the engine pushed a %s, not an image manifest", desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return "", fmt.Errorf("reading the manifest pushed: %w", err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading the configuration pushed: %w", err)
	}
	cfg, err := withLabels(rawCfg, labels)
	if err != nil {
		return "", fmt.Errorf("the configuration pushed: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return "", fmt.Errorf("the manifest pushed: %w", err)
	}
	var cd v1.Descriptor
	if err := json.Unmarshal(m["config"], &cd); err != nil {
		return "", fmt.Errorf("the manifest pushed: its config: %w", err)
	}
	cfgLayer := static.NewLayer(cfg, cd.MediaType)
	if cd.Digest, err = cfgLayer.Digest(); err != nil {
		return "", err
	}
	cd.Size = int64(len(cfg))
	ropts = append(ropts, remote.Reuse(pusher))
	if err := remote.WriteLayer(tag.Context(), cfgLayer, ropts...); err != nil {
		return "", fmt.Errorf("uploading the labelled configuration: %w", err)
	}
	if m["config"], err = json.Marshal(cd); err != nil {
		return "", err
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	if err := remote.Put(tag, rawManifest{manifest, desc.MediaType}, ropts...); err != nil {
		return "", fmt.Errorf("tagging the labelled manifest %s: %w", ref, err)
	}
	sum := sha256.Sum256(manifest)
	labelled := "sha256:" + hex.EncodeToString(sum[:])
	fmt.Fprintf(orDiscard(log), "labels %v added in the registry: %s is %s\n", slices.Sorted(maps.Keys(labels)), ref, labelled)
	return labelled, nil
}

// withLabels returns the image configuration raw with labels added to
// its config's, every other field as it was.
func withLabels(raw []byte, labels map[string]string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	var c map[string]json.RawMessage
	if b, ok := top["config"]; ok && string(b) != "null" {
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	if c == nil {
		c = map[string]json.RawMessage{}
	}
	var have map[string]string
	if b, ok := c["Labels"]; ok && string(b) != "null" {
		if err := json.Unmarshal(b, &have); err != nil {
			return nil, fmt.Errorf("config.Labels: %w", err)
		}
	}
	if have == nil {
		have = map[string]string{}
	}
	maps.Copy(have, labels)
	var err error
	if c["Labels"], err = json.Marshal(have); err != nil {
		return nil, err
	}
	if top["config"], err = json.Marshal(c); err != nil {
		return nil, err
	}
	return json.Marshal(top)
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.b, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }
