package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Paths in the buildkitd pod.
const (
	buildkitConfigDir = "/etc/buildkit"
	buildkitRoot      = "/var/lib/buildkit"
	// buildkitd listens on a unix socket in its container, never on a
	// TCP port: the pod shares the node's network (below), and two
	// builds on one node would fight over a port.
	buildkitAddr = "unix:///run/buildkit/buildkitd.sock"
	// buildkitConfigKey is the pod annotation holding buildkitd.toml,
	// which a downward API volume makes a file of: no ConfigMap to make
	// and to delete.
	buildkitConfigKey = "hoist.dev/buildkitd.toml"
)

// buildDeadline bounds a buildkitd pod's life when ctx has no deadline: it
// is deleted when Build returns; this is for a Hoist that died meanwhile.
const buildDeadline = 6 * time.Hour

// Build builds spec with BuildKit in a pod of its own and pushes the result
// to the registry under every tag (names without a registry under
// Options.Registry, see Ref); it returns the image's manifest digest.
//
// The pod runs buildkitd privileged, the only privileged pod Hoist makes:
// BuildKit's OCI worker needs it to make the containers of RUN steps, and
// rootless BuildKit would need an image with newuidmap carrying file
// capabilities and unconfined seccomp and AppArmor, not worth it yet. It
// shares the node's network so that it reaches a registry on the node's
// loopback (the embedded one); RUN steps do not: they get a network of
// their own (see BuildNetwork), or, in an image without CNI plugins, share
// the node's, which the build's log warns of.
// Hoist talks to buildkitd through `buildctl dial-stdio` exec'd in the
// pod, and BuildKit's session streams the context from Hoist's host: the
// pod has no host path. The pod is deleted when Build returns, at once
// when ctx ends.
func (x *Executor) Build(ctx context.Context, spec pipeline.BuildSpec, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	if err := spec.CheckWorkspace(); err != nil {
		return "", err
	}
	dockerfile := spec.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	dfPath := filepath.Join(spec.ContextDir, filepath.FromSlash(dockerfile))
	attrs := map[string]string{"filename": filepath.Base(dfPath)}
	for k, v := range spec.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range spec.Labels {
		attrs["label:"+k] = v
	}
	if len(spec.Tags) == 0 {
		return "", fmt.Errorf("building %s: no tag: on Kubernetes an image is kept in a registry, under a name", spec.ContextDir)
	}
	names := make([]string, len(spec.Tags))
	hosts := []string{x.opts.Registry}
	for i, t := range spec.Tags {
		r, err := x.imageRef(t)
		if err != nil {
			return "", fmt.Errorf("building %s: %w", spec.ContextDir, err)
		}
		names[i] = r.String()
		hosts = append(hosts, r.Context().RegistryStr())
	}
	from, err := x.fromContexts(ctx, dfPath, spec, attrs)
	if err != nil {
		return "", err
	}
	if err := x.keepPins(ctx, spec.From); err != nil {
		return "", err
	}
	ctxFS, err := fsutil.NewFS(spec.ContextDir)
	if err != nil {
		return "", fmt.Errorf("build context %s: %w", spec.ContextDir, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dfPath))
	if err != nil {
		return "", fmt.Errorf("Dockerfile %s: %w", dfPath, err)
	}

	start := time.Now()
	c, done, err := x.startBuildKit(ctx, append(hosts, from...), true)
	if errors.Is(err, errNoCNI) {
		fmt.Fprintf(log, "[hoist] warning: %v: RUN steps share the node's network, its loopback included; make the image again (scripts/k3s.sh down, then up)\n", err)
		c, done, err = x.startBuildKit(ctx, append(hosts, from...), false)
	}
	if err != nil {
		return "", err
	}
	defer done()
	fmt.Fprintf(log, "[hoist] BuildKit ready in pod %s/%s after %.1f s\n", x.ns, c.pod, time.Since(start).Seconds())

	opt := bkclient.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Session:       []session.Attachable{x.authProvider()},
	}
	exp := map[string]string{"name": strings.Join(names, ","), "push": "true"}
	if x.opts.Insecure {
		exp["registry.insecure"] = "true"
	}
	opt.Exports = []bkclient.ExportEntry{{Type: bkclient.ExporterImage, Attrs: exp}}
	opt.CacheImports, opt.CacheExports = x.buildCache(ctx, names[0])
	res, err := c.solve(ctx, opt, log)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", buildError(err, displayPath(spec, dfPath), attrs["filename"])
	}
	id := res.ExporterResponse["containerimage.digest"]
	if id == "" {
		return "", fmt.Errorf("building %s: BuildKit reported no image digest", spec.ContextDir)
	}
	return id, nil
}

// buildCache is where a build's cache is kept between builds (each
// starts in a new buildkitd): in the registry, beside the image named
// first, as a tag of its own repository "hoist-cache/REPO" (no other
// project's build reads it). Only the final image's steps are kept (mode
// min): their layers are the image's, which the registry has already;
// a multi-stage build's earlier stages are built again.
// The first build has no cache to import: it is not asked for, so that
// the log does not show BuildKit's error about it.
func (x *Executor) buildCache(ctx context.Context, image string) (imports, exports []bkclient.CacheOptionsEntry) {
	r, err := x.imageRef(image)
	if err != nil || x.opts.Registry == "" {
		return nil, nil
	}
	ref := x.opts.Registry + "/hoist-cache/" + r.Context().RepositoryStr() + ":buildcache"
	in := map[string]string{"ref": ref}
	out := map[string]string{"ref": ref, "mode": "min", "ignore-error": "true"}
	if x.opts.Insecure {
		in["registry.insecure"], out["registry.insecure"] = "true", "true"
	}
	exports = []bkclient.CacheOptionsEntry{{Type: "registry", Attrs: out}}
	if ok, err := x.ImageExists(ctx, ref); err == nil && !ok {
		return nil, exports
	}
	return []bkclient.CacheOptionsEntry{{Type: "registry", Attrs: in}}, exports
}

// buildkit is a buildkitd running in a pod, and Hoist's client of it.
type buildkit struct {
	pod string
	cli *bkclient.Client
}

// startBuildKit starts a buildkitd pod and connects to it; done closes the
// connection and deletes the pod. hosts are the registries the build
// reaches, made plain-HTTP-able when Options.Insecure. With ownNet, RUN
// steps get a network of their own (see BuildNetwork); the error is
// errNoCNI when the image cannot give them one.
func (x *Executor) startBuildKit(ctx context.Context, hosts []string, ownNet bool) (*buildkit, func(), error) {
	name := podName("build")
	slice := -1
	if ownNet {
		buildSliceMu.Lock()
		n, err := x.freeBuildSlice(ctx)
		if err != nil {
			buildSliceMu.Unlock()
			return nil, nil, err
		}
		slice = n
	}
	pod := x.buildkitPod(ctx, name, hosts, slice)
	_, err := x.createPod(ctx, pod)
	if ownNet {
		buildSliceMu.Unlock()
	}
	if err != nil {
		return nil, nil, err
	}
	bk := &buildkit{pod: name}
	cctx, cancel := context.WithCancel(ctx)
	done := func() {
		if bk.cli != nil {
			_ = bk.cli.Close()
		}
		cancel()
		_ = x.deletePod(name)
	}
	_, err = x.waitPod(ctx, name, running())
	if err == nil {
		err = x.awaitBuildKit(ctx, name)
	}
	if err != nil {
		ended, msg := x.buildkitEnded(name)
		done()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if ended && ownNet && lacksCNI(msg) {
			return nil, nil, fmt.Errorf("%w in %s (%s)", errNoCNI, buildkitCNIDir, x.opts.BuildKit)
		}
		if ended && msg != "" {
			return nil, nil, fmt.Errorf("starting BuildKit in pod %s/%s: buildkitd ended: %s", x.ns, name, msg)
		}
		return nil, nil, fmt.Errorf("starting BuildKit: %w", err)
	}
	cli, err := bkclient.New(cctx, "", bkclient.WithContextDialer(func(context.Context, string) (net.Conn, error) {
		return x.dialStdio(cctx, name)
	}))
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("connecting to BuildKit in pod %s/%s: %w", x.ns, name, err)
	}
	bk.cli = cli
	return bk, done, nil
}

// buildkitPod is the spec of a buildkitd pod whose RUN steps are on slice
// of BuildNetwork, or share the node's network when slice < 0.
func (x *Executor) buildkitPod(ctx context.Context, name string, hosts []string, slice int) *corev1.Pod {
	var extra map[string]string
	args := []string{"buildkitd", "--oci-worker=true", "--containerd-worker=false",
		"--addr", buildkitAddr, "--root", buildkitRoot, "--config", buildkitConfigDir + "/buildkitd.toml"}
	files := []corev1.DownwardAPIVolumeFile{{
		Path:     "buildkitd.toml",
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + buildkitConfigKey + "']"},
	}}
	ann := map[string]string{buildkitConfigKey: x.buildkitConfig(hosts)}
	if slice >= 0 {
		extra = map[string]string{buildSliceLabel: strconv.Itoa(slice)}
		// cni.json in the config folder is where buildkitd reads it
		// (its --oci-cni-config-path flag is not read in v0.34.1).
		ann[buildkitCNIKey] = buildCNIConfig(slice)
		files = append(files, corev1.DownwardAPIVolumeFile{
			Path:     "cni.json",
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + buildkitCNIKey + "']"},
		})
		args = append(args, "--oci-worker-net=cni", "--oci-cni-binary-dir="+buildkitCNIDir)
	} else {
		args = append(args, "--oci-worker-net=host")
	}
	meta := metaFor(ctx, name, extra)
	meta.Annotations = ann
	deadline := int64(buildDeadline / time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = int64(time.Until(d)/time.Second) + 60
	}
	yes, zero := true, int64(0)
	return &corev1.Pod{
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			TerminationGracePeriodSeconds: &zero,
			HostNetwork:                   true,
			Containers: []corev1.Container{{
				Name: "buildkitd", Image: x.opts.BuildKit, ImagePullPolicy: corev1.PullNever,
				Command:         args,
				SecurityContext: &corev1.SecurityContext{Privileged: &yes},
				// buildkitd's last words when it ends at once.
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				Resources:                resources(x.limits(ctx)),
				VolumeMounts: []corev1.VolumeMount{
					{Name: "state", MountPath: buildkitRoot},
					{Name: "config", MountPath: buildkitConfigDir, ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				// Not the container's own overlay filesystem: buildkitd's
				// overlay snapshotter cannot stack on it.
				{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "config", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: files}}},
			},
		},
	}
}

// buildkitConfig is buildkitd.toml: with Options.Insecure, each of hosts
// is reached over HTTPS without verifying it, else plain HTTP (what
// go-containerregistry's name.Insecure does for Hoist's own calls).
func (x *Executor) buildkitConfig(hosts []string) string {
	var b strings.Builder
	b.WriteString("# written by Hoist\n")
	if !x.opts.Insecure {
		return b.String()
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] || strings.ContainsAny(h, "\"\\\n") {
			continue
		}
		seen[h] = true
		fmt.Fprintf(&b, "[registry.%q]\n  http = true\n  insecure = true\n", h)
	}
	return b.String()
}

// awaitBuildKit waits until buildkitd in the pod answers.
func (x *Executor) awaitBuildKit(ctx context.Context, pod string) error {
	var out strings.Builder
	for end := time.Now().Add(time.Minute); ; {
		out.Reset()
		code, err := x.exec(ctx, pod, "buildkitd", []string{"buildctl", "--addr", buildkitAddr, "debug", "workers"}, nil, io.Discard, &out)
		if err == nil && code == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ended, _ := x.buildkitEnded(pod); ended {
			return fmt.Errorf("BuildKit in pod %s/%s ended", x.ns, pod)
		}
		if time.Now().After(end) {
			if err == nil {
				err = fmt.Errorf("exit code %d: %s", code, strings.TrimSpace(out.String()))
			}
			return fmt.Errorf("BuildKit in pod %s/%s did not answer within a minute: %w", x.ns, pod, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// solve runs the build, its progress to log as plain text.
func (bk *buildkit) solve(ctx context.Context, opt bkclient.SolveOpt, log io.Writer) (*bkclient.SolveResponse, error) {
	ch := make(chan *bkclient.SolveStatus)
	disp, err := progressui.NewDisplay(log, progressui.PlainMode)
	if err != nil {
		return nil, err
	}
	shown := make(chan struct{})
	go func() {
		defer close(shown)
		// Its own context: it must drain ch until Solve closes it.
		_, _ = disp.UpdateFrom(context.WithoutCancel(ctx), ch)
	}()
	res, err := bk.cli.Solve(ctx, nil, opt, ch)
	<-shown
	return res, err
}

// buildError is BuildKit's own message for a failed build, without the
// stack and gRPC wrapping its errors carry, after the line of the
// Dockerfile it failed at when BuildKit says: "app/Dockerfile:3: process
// "/bin/sh -c false" did not complete successfully: exit code: 1".
// dockerfile is the Dockerfile as the user knows it, filename its base.
func buildError(err error, dockerfile, filename string) error {
	var se interface{ GRPCStatus() *status.Status }
	msg := err.Error()
	if errors.As(err, &se) && se.GRPCStatus() != nil {
		msg = se.GRPCStatus().Message()
	}
	msg = strings.TrimPrefix(msg, "failed to solve: ")
	for _, src := range errdefs.Sources(err) {
		if src.Info != nil && src.Info.Filename == filename && len(src.Ranges) > 0 && src.Ranges[0].Start != nil {
			return fmt.Errorf("%s:%d: %s", dockerfile, src.Ranges[0].Start.Line, msg)
		}
	}
	return errors.New(msg)
}

// displayPath is p relative to the workspace (else the context) for
// messages, as it is in the project's checkout.
func displayPath(spec pipeline.BuildSpec, p string) string {
	base := spec.Workspace
	if base == "" {
		base = spec.ContextDir
	}
	if rel, err := filepath.Rel(base, p); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return p
}

// registryHost is the registry of ref ("" when it names none).
func registryHost(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return ""
}
