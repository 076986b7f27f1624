package engine

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
)

// TestPushToProtectedEmbeddedRegistry: the real engine pushes to Hoist's
// embedded registry only with the registry's own credentials (given in
// X-Registry-Auth through its keychain), and pulls from it anonymously.
func TestPushToProtectedEmbeddedRegistry(t *testing.T) {
	t.Parallel()
	anon := newEngine(t)
	srv, err := registry.Serve(context.Background(), registry.ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir(), Access: registry.AccessPublicRead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hoist, err := New(t.Context(), Options{Host: anon.cli.DaemonHost(), Keychain: srv.Keychain(authn.NewMultiKeychain())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hoist.Close() })

	id := uniqueID(t)
	ref := srv.Addr() + "/hoist/" + id + ":test"
	dir := newContext(t, anon, id, map[string]string{"Dockerfile": dockerfile(id)})
	var log bytes.Buffer
	if _, err := anon.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{ref}}, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	// The same engine (Podman's too) with no credentials.
	plain := *anon
	plain.keychain = authn.NewMultiKeychain()
	anonymous := &plain
	if _, err := anonymous.Push(t.Context(), ref, &log); err == nil {
		t.Fatal("an anonymous push to the embedded registry was taken")
	}
	digest, err := hoist.Push(t.Context(), ref, &log)
	if err != nil {
		t.Fatalf("Push with the registry's credentials: %v\n%s", err, log.String())
	}
	if _, err := anon.cli.ImageRemove(t.Context(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		t.Fatal(err)
	}
	if err := anonymous.PullAs(t.Context(), srv.Addr()+"/hoist/"+id+"@"+digest, id+":pulled", &log); err != nil {
		t.Fatalf("an anonymous pull: %v\n%s", err, log.String())
	}
}
