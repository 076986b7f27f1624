package kube

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestImagesAreTheRegistrys: Push, Pull, ImageExists, InspectImage and
// RemoveImage answer from the registry standing in for a local store.
func TestImagesAreTheRegistrys(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	x := newTestExecutor(t, reg)
	ctx := t.Context()
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\n")
	var log bytes.Buffer
	id, err := x.Build(ctx, pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:1", reg + "/keep/app:1"}}, &log)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	if d, err := x.Push(ctx, "app:1", &log); err != nil || d != id {
		t.Errorf("Push: %q, %v; want the build's digest %s", d, err, id)
	}
	if err := x.Pull(ctx, reg+"/hoist-local/app@"+id, &log); err != nil {
		t.Errorf("Pull by digest: %v", err)
	}
	for _, op := range []struct {
		what string
		err  error
	}{
		{"Push", func() error { _, err := x.Push(ctx, "app:missing", nil); return err }()},
		{"Pull", x.Pull(ctx, reg+"/nowhere/app:1", nil)},
		{"InspectImage", func() error { _, err := x.InspectImage(ctx, "app:missing"); return err }()},
	} {
		if !errors.Is(op.err, pipeline.ErrNotFound) || !strings.Contains(op.err.Error(), "is not in registry "+reg) {
			t.Errorf("%s of a missing image: %v; want ErrNotFound saying it is not in the registry", op.what, op.err)
		}
	}
	exists := func(ref string) bool {
		t.Helper()
		ok, err := x.ImageExists(ctx, ref)
		if err != nil {
			t.Fatalf("ImageExists(%s): %v", ref, err)
		}
		return ok
	}
	if !exists("app:1") || exists("app:2") || !exists(reg+"/keep/app:1") {
		t.Errorf("ImageExists: app:1 %v, app:2 %v, %s/keep/app:1 %v; want true, false, true", exists("app:1"), exists("app:2"), reg, exists(reg+"/keep/app:1"))
	}
	// Only a local name is removed: an ID or another registry's name
	// names nothing Hoist keeps for itself.
	for _, ref := range []string{id, reg + "/keep/app:1", "app:1", "app:1", "app:never"} {
		if err := x.RemoveImage(ctx, ref); err != nil {
			t.Errorf("RemoveImage(%s): %v", ref, err)
		}
	}
	if exists("app:1") || !exists(reg+"/keep/app:1") {
		t.Errorf("after RemoveImage: app:1 %v, %s/keep/app:1 %v; want false, true", exists("app:1"), reg, exists(reg+"/keep/app:1"))
	}
	unreachable := newTestExecutor(t, "127.0.0.1:1")
	if ok, err := unreachable.ImageExists(ctx, "app:1"); err == nil {
		t.Errorf("ImageExists with the registry down: %v, nil; want an error", ok)
	}
}

// TestBuildPushesWithTheKeychain: BuildKit pushes to Hoist's embedded
// registry, which takes writes only with its own credentials, with those
// the executor's keychain gives, asked through the build's session.
func TestBuildPushesWithTheKeychain(t *testing.T) {
	srv, err := registry.Serve(context.Background(), registry.ServerConfig{Addr: "127.0.0.1:0", RootDir: t.TempDir(), Access: registry.AccessPublicRead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	anonymous := newTestExecutor(t, srv.Addr())
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\n")
	var log bytes.Buffer
	if _, err := anonymous.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:anon"}}, &log); err == nil {
		t.Fatalf("an anonymous build pushed to the embedded registry:\n%s", log.String())
	}
	x := newTestExecutor(t, srv.Addr())
	x.opts.Keychain = srv.Keychain(authn.NewMultiKeychain())
	log.Reset()
	id, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{"app:1"}}, &log)
	if err != nil {
		t.Fatalf("Build with the registry's credentials: %v\n%s", err, log.String())
	}
	if cfg, err := anonymous.InspectImage(t.Context(), "app:1"); err != nil || cfg.Digest != id {
		t.Errorf("InspectImage (an anonymous read): %+v, %v; want %s", cfg, err, id)
	}
}

// TestBuildOnAPlainHTTPRegistryOffLoopback: with Options.Insecure,
// BuildKit pulls from and pushes to a plain HTTP registry that is not on
// loopback (which BuildKit would reach over HTTPS only).
func TestBuildOnAPlainHTTPRegistryOffLoopback(t *testing.T) {
	ip := offLoopbackIP(t)
	srv, err := registry.Serve(context.Background(), registry.ServerConfig{Addr: ip + ":0", RootDir: t.TempDir(), Access: registry.AccessOpen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	x := newTestExecutor(t, srv.Addr())
	ws := busyboxWorkspace(t, "FROM scratch\nCOPY rootfs/ /\nRUN echo parent > /who\n")
	var log bytes.Buffer
	parent := srv.Addr() + "/lib/parent:1"
	if _, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Tags: []string{parent}}, &log); err != nil {
		t.Fatalf("Build of the parent: %v\n%s", err, log.String())
	}
	putFile(t, filepath.Join(ws, "Dockerfile.child"), "FROM "+parent+"\nRUN cat /who\n")
	log.Reset()
	if _, err := x.Build(t.Context(), pipeline.BuildSpec{Workspace: ws, ContextDir: ws, Dockerfile: "Dockerfile.child", Tags: []string{"app:child"}}, &log); err != nil {
		t.Fatalf("Build FROM %s: %v\n%s", parent, err, log.String())
	}
	if !strings.Contains(log.String(), "parent") {
		t.Errorf("the child's RUN did not print the parent's file:\n%s", log.String())
	}
}

// hostIP is an IPv4 address of this host that is not loopback.
func offLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("this host has no IPv4 address but loopback")
	return ""
}

// TestKeepPinsConcurrently: builds running at once that pin the same parent
// (the children of one base, two workers) keep it under its FROM name
// without failing: concurrent writes of one manifest made docker-registry
// answer DIGEST_INVALID and MANIFEST_BLOB_UNKNOWN, which failed a build.
func TestKeepPinsConcurrently(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	ref := pushWebImage(t, reg+"/lib/base:1", "base")
	x := &Executor{opts: Options{Registry: reg, Insecure: true}, pinMu: new(sync.Mutex)}
	digest, err := x.Push(t.Context(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]string{"team/base:stable": reg + "/lib/base@" + digest}
	for round := range 5 {
		errs := make(chan error, 8)
		for range cap(errs) {
			go func() { errs <- x.keepPins(t.Context(), pins) }()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: keepPins: %v", round, err)
			}
		}
	}
	if cfg, err := x.InspectImage(t.Context(), "team/base:stable"); err != nil || cfg.Digest != digest {
		t.Errorf("InspectImage(team/base:stable) = %s, %v; want the pinned %s", cfg.Digest, err, digest)
	}
}
