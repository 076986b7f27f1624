package engine

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestLabelsWhenPushed: a build that may leave its labels for the push
// has one step fewer; its tag shows the labels (InspectImage) though the
// engine's image lacks them; Push adds them to the copy in the registry,
// layers and everything else unchanged, and returns the labelled digest,
// which a build pinned to it (FROM by digest) pulls and builds on.
func TestLabelsWhenPushed(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if e.podman {
		t.Skip("Podman's builds take labels as they are")
	}
	id := uniqueID(t)
	host := newRegistry(t)
	ref := host + "/hoist/" + id + ":test"
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id, `CMD ["true"]`)})
	labels := map[string]string{"org.opencontainers.image.revision": "abc", "io.hoist.project": `a "quoted" \ one`}
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{ref}, Labels: labels, LabelsWhenPushed: true}, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "image.revision") {
		t.Errorf("the build has a step of the labels left for the push:\n%s", log.String())
	}
	local, err := e.cli.ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := local.Config.Labels["org.opencontainers.image.revision"]; ok {
		t.Errorf("the engine's image has the labels left for the push: %v", local.Config.Labels)
	}
	cfg, err := e.InspectImage(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range labels {
		if cfg.Labels[k] != v {
			t.Errorf("InspectImage labels = %v; want %s=%q", cfg.Labels, k, v)
		}
	}
	if cfg.Labels[testLabel] != id {
		t.Errorf("InspectImage lost the image's own label %s: %v", testLabel, cfg.Labels)
	}

	digest, err := e.Push(t.Context(), ref, &log)
	if err != nil {
		t.Fatalf("Push: %v\n%s", err, log.String())
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	if digest != desc.Digest.String() {
		t.Errorf("Push = %s; the registry's tag is %s", digest, desc.Digest)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(labels)
	want[testLabel] = id
	if !maps.Equal(cf.Config.Labels, want) {
		t.Errorf("the registry's labels = %v; want %v", cf.Config.Labels, want)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != len(local.RootFS.Layers) {
		t.Fatalf("the registry's image has %d layers (%v); the engine's %d", len(layers), err, len(local.RootFS.Layers))
	}
	for i, l := range layers {
		if d, err := l.DiffID(); err != nil || d.String() != local.RootFS.Layers[i] {
			t.Errorf("layer %d: %s (%v); the engine's is %s", i, d, err, local.RootFS.Layers[i])
		}
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"architecture", "os", "rootfs", "history", "created"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("the labelled configuration lost %q", f)
		}
	}
	if cfg, err := e.InspectImage(t.Context(), ref); err != nil || cfg.Digest != digest {
		t.Errorf("InspectImage after the push: digest %q (%v); want %s", cfg.Digest, err, digest)
	}

	// A build pinned to the labelled digest pulls it and builds on it.
	child := id + "-child"
	cdir := newContext(t, e, child, map[string]string{"Dockerfile": "FROM " + id + ":parent\n" + `LABEL ` + testLabel + `="` + child + `"` + "\n"})
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: cdir, Tags: []string{child + ":test"},
		From: map[string]string{id + ":parent": host + "/hoist/" + id + "@" + digest}}, &log); err != nil {
		t.Fatalf("Build of a child pinned to the labelled digest: %v\n%s", err, log.String())
	}
	c, err := e.InspectImage(t.Context(), child+":test")
	if err != nil || c.Labels["org.opencontainers.image.revision"] != "abc" {
		t.Errorf("the child's labels = %v (%v); want the parent's revision label inherited", c.Labels, err)
	}
}

// TestWithLabels: labels are added to a configuration's, every other field
// kept; one with no config or no labels gets them.
func TestWithLabels(t *testing.T) {
	for _, raw := range []string{
		`{"architecture":"amd64","config":{"Cmd":["true"],"Labels":{"a":"1"}},"x-extra":{"k":[1,2]}}`,
		`{"architecture":"amd64","config":{"Labels":null}}`,
		`{"architecture":"amd64"}`,
	} {
		out, err := withLabels([]byte(raw), map[string]string{"b": "2", "a": "3"})
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var got struct {
			Architecture string
			Config       struct {
				Cmd    []string
				Labels map[string]string
			}
			Extra json.RawMessage `json:"x-extra"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got.Architecture != "amd64" || got.Config.Labels["a"] != "3" || got.Config.Labels["b"] != "2" {
			t.Errorf("%s → %s", raw, out)
		}
		if strings.Contains(raw, "x-extra") && (string(got.Extra) != `{"k":[1,2]}` || len(got.Config.Cmd) != 1) {
			t.Errorf("%s lost a field: %s", raw, out)
		}
	}
	if _, err := withLabels([]byte(`{"config":{"Labels":"no"}}`), nil); err == nil {
		t.Error("labels that are no map: no error")
	}
}
