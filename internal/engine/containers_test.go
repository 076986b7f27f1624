package engine

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// buildImage builds a busybox image labelled id from a Dockerfile with the
// extra lines and files, and returns its tag.
func buildImage(t *testing.T, e *Engine, id, tag string, files map[string]string, lines ...string) string {
	t.Helper()
	if files == nil {
		files = map[string]string{}
	}
	files["Dockerfile"] = dockerfile(id, lines...)
	dir := newContext(t, e, id, files)
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{tag}}, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	return tag
}

// start starts spec (labelled id) and registers its removal.
func start(t *testing.T, e *Engine, id string, spec pipeline.ContainerSpec) string {
	t.Helper()
	spec.Labels = map[string]string{testLabel: id}
	cid, err := e.StartContainer(t.Context(), spec)
	if err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	t.Cleanup(func() { _ = e.RemoveContainer(context.Background(), cid) })
	return cid
}

// runToEnd starts spec, waits for it and returns its exit code, stdout and
// stderr.
func runToEnd(t *testing.T, e *Engine, id string, spec pipeline.ContainerSpec) (int, string, string) {
	t.Helper()
	cid := start(t, e, id, spec)
	code, err := e.WaitContainer(t.Context(), cid)
	if err != nil {
		t.Fatalf("WaitContainer: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if err := e.ContainerOutput(t.Context(), cid, &stdout, &stderr, false); err != nil {
		t.Fatalf("ContainerOutput: %v", err)
	}
	return code, stdout.String(), stderr.String()
}

// newNetwork creates a network labelled id and registers its removal.
func newNetwork(t *testing.T, e *Engine, id string) string {
	t.Helper()
	nid, err := e.CreateNetwork(t.Context(), id, map[string]string{testLabel: id})
	if err != nil {
		t.Fatalf("CreateNetwork: %v", err)
	}
	t.Cleanup(func() { _ = e.RemoveNetwork(context.Background(), nid) })
	return nid
}

func countNetworks(t *testing.T, e *Engine, id string) int {
	t.Helper()
	res, err := e.cli.NetworkList(context.Background(), client.NetworkListOptions{
		Filters: make(client.Filters).Add("label", testLabel+"="+id),
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

func TestContainersNetworkAlias(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildImage(t, e, id, id+":test", map[string]string{"rootfs/www/index.html": "hello from " + id + "\n"})
	net := newNetwork(t, e, id)
	if n := countNetworks(t, e, id); n != 1 {
		t.Fatalf("%d networks labelled, want 1", n)
	}

	server := start(t, e, id, pipeline.ContainerSpec{
		Image: image, Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
		Network: net, Aliases: []string{"web"},
	})
	script := "for i in $(seq 50); do wget -qO- http://web:8080/ && exit 0; sleep 0.2; done; exit 1"
	code, stdout, stderr := runToEnd(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"sh", "-c", script}, Network: net})
	if code != 0 || stdout != "hello from "+id+"\n" {
		t.Errorf("client: exit %d, stdout %q, stderr %q; want the page served by alias web", code, stdout, stderr)
	}

	// A probe beside the server finds its port on the network too.
	if open, err := e.ProbePorts(t.Context(), server, []int{8080}); err != nil || len(open) != 1 {
		t.Errorf("ProbePorts on a network of its own = %v, %v; want 8080 open", open, err)
	}

	// A container on the default bridge cannot resolve the alias.
	other := start(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "30"}})
	code, _, _ = runToEnd(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"wget", "-T", "2", "-qO-", "http://web:8080/"}})
	if code == 0 {
		t.Error("a container on the default bridge reached the alias web")
	}
	if _, err := e.StartContainer(t.Context(), pipeline.ContainerSpec{Image: image, Aliases: []string{"x"}}); err == nil {
		t.Error("StartContainer with aliases and no network succeeded")
	}

	// Cleanup: everything removes, twice is fine.
	for _, c := range []string{server, other} {
		if err := e.RemoveContainer(t.Context(), c); err != nil {
			t.Errorf("RemoveContainer: %v", err)
		}
	}
	for _, c := range listLabelled(t, e, id) {
		if err := e.RemoveContainer(t.Context(), c); err != nil {
			t.Errorf("RemoveContainer: %v", err)
		}
	}
	if err := e.RemoveContainer(t.Context(), server); err != nil {
		t.Errorf("RemoveContainer of a removed container: %v", err)
	}
	if err := e.RemoveNetwork(t.Context(), net); err != nil {
		t.Errorf("RemoveNetwork: %v", err)
	}
	if err := e.RemoveNetwork(t.Context(), net); err != nil {
		t.Errorf("RemoveNetwork of a removed network: %v", err)
	}
	if n, m := countLabelled(t, e, id), countNetworks(t, e, id); n != 0 || m != 0 {
		t.Errorf("%d containers and %d networks left", n, m)
	}
}

// listLabelled lists the IDs of the containers labelled id.
func listLabelled(t *testing.T, e *Engine, id string) []string {
	t.Helper()
	cs, err := e.cli.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", testLabel+"="+id),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs.Items {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestContainersOutputAndExit(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildImage(t, e, id, id+":test", nil)

	code, stdout, stderr := runToEnd(t, e, id, pipeline.ContainerSpec{
		Image: image, Cmd: []string{"sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 3"},
	})
	if code != 3 || stdout != "out1\nout2\n" || stderr != "err1\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 3, \"out1\\nout2\\n\", \"err1\\n\"", code, stdout, stderr)
	}

	// Environment, user, working directory.
	code, stdout, _ = runToEnd(t, e, id, pipeline.ContainerSpec{
		Image: image, Cmd: []string{"sh", "-c", "echo $FOO; id -u; pwd"},
		Env: []string{"FOO=bar"}, User: "1234", WorkingDir: "/tmp",
	})
	if code != 0 || stdout != "bar\n1234\n/tmp\n" {
		t.Errorf("env/user/workdir: exit %d, stdout %q", code, stdout)
	}

	// Privileged containers are refused; the others lack the dropped
	// capabilities and run within the limits.
	if _, err := e.StartContainer(t.Context(), pipeline.ContainerSpec{
		Image: image, Cmd: []string{"true"}, Privileged: true, Labels: map[string]string{testLabel: id},
	}); err == nil || !strings.Contains(err.Error(), "privileged containers are refused") {
		t.Errorf("StartContainer(privileged): %v, want it refused", err)
	}
	if _, err := e.StartContainer(t.Context(), pipeline.ContainerSpec{
		Image: image, Cmd: []string{"true"}, Network: "host", Labels: map[string]string{testLabel: id},
	}); err == nil || !strings.Contains(err.Error(), "host's network is refused") {
		t.Errorf("StartContainer(host network): %v, want it refused", err)
	}
	limited := start(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "60"}})
	insp, err := e.cli.ContainerInspect(t.Context(), limited, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := insp.Container.HostConfig
	if hc.Privileged || hc.Memory != DefaultLimits.Memory || hc.NanoCPUs != int64(DefaultLimits.CPUs*1e9) ||
		hc.PidsLimit == nil || *hc.PidsLimit != DefaultLimits.PIDs || !slices.Contains(hc.CapDrop, "CAP_NET_RAW") && !slices.Contains(hc.CapDrop, "NET_RAW") || len(hc.Mounts)+len(hc.Binds) != 0 {
		t.Errorf("host config: privileged %v, memory %d, CPUs %d, pids %v, dropped %v, mounts %v %v; want confined",
			hc.Privileged, hc.Memory, hc.NanoCPUs, hc.PidsLimit, hc.CapDrop, hc.Mounts, hc.Binds)
	}

	// Following returns what comes later, when the container exits.
	cid := start(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"sh", "-c", "echo early; sleep 1; echo late >&2"}})
	var out, errOut bytes.Buffer
	begin := time.Now()
	if err := e.ContainerOutput(t.Context(), cid, &out, &errOut, true); err != nil {
		t.Fatalf("ContainerOutput(follow): %v", err)
	}
	if out.String() != "early\n" || errOut.String() != "late\n" || time.Since(begin) > 20*time.Second {
		t.Errorf("follow: stdout %q, stderr %q after %v", out.String(), errOut.String(), time.Since(begin))
	}
	if code, err := e.WaitContainer(t.Context(), cid); err != nil || code != 0 {
		t.Errorf("WaitContainer after exit = %d, %v", code, err)
	}

	// A cancelled context ends a follow.
	cid = start(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "60"}})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := e.ContainerOutput(ctx, cid, nil, nil, true); err == nil {
		t.Error("ContainerOutput(follow) of a sleeping container returned no error on a cancelled context")
	}
	if _, err := e.WaitContainer(ctx, cid); err == nil {
		t.Error("WaitContainer returned no error on a cancelled context")
	}

	// A command that cannot start is an error and leaves no container.
	before := countLabelled(t, e, id)
	_, err = e.StartContainer(t.Context(), pipeline.ContainerSpec{Image: image, Cmd: []string{"/no/such/program"}, Labels: map[string]string{testLabel: id}})
	if err == nil || !strings.Contains(err.Error(), "/no/such/program") {
		t.Errorf("StartContainer of a missing program = %v", err)
	}
	if after := countLabelled(t, e, id); after != before {
		t.Errorf("a failed start left a container (%d → %d)", before, after)
	}
	if _, err := e.StartContainer(t.Context(), pipeline.ContainerSpec{Image: id + ":absent"}); err == nil {
		t.Error("StartContainer of a missing image succeeded")
	}
}

func TestContainersEntrypoint(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildImage(t, e, id, id+":test", nil, `ENTRYPOINT ["echo", "from-entrypoint"]`, `CMD ["from-cmd"]`)
	tests := []struct {
		name       string
		entrypoint []string
		cmd        []string
		want       string
	}{
		{"image's own", nil, nil, "from-entrypoint from-cmd\n"},
		{"kept, cmd replaced", nil, []string{"x"}, "from-entrypoint x\n"},
		{"cleared", []string{}, []string{"echo", "cleared"}, "cleared\n"},
		{"replaced", []string{"echo", "new"}, []string{"y"}, "new y\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runToEnd(t, e, id, pipeline.ContainerSpec{Image: image, Entrypoint: tt.entrypoint, Cmd: tt.cmd})
		if code != 0 || stdout != tt.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tt.name, code, stdout, stderr, tt.want)
		}
	}
}

func TestRemoveImage(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildImage(t, e, id, id+":test", nil)
	other := buildImage(t, e, id, id+":other", nil, "LABEL other=1")
	if ok, err := e.ImageExists(t.Context(), other); !ok || err != nil {
		t.Fatalf("ImageExists(%s) = %v, %v", other, ok, err)
	}
	if err := e.RemoveImage(t.Context(), other); err != nil {
		t.Fatalf("RemoveImage: %v", err)
	}
	if ok, err := e.ImageExists(t.Context(), other); ok || err != nil {
		t.Errorf("ImageExists after RemoveImage = %v, %v", ok, err)
	}
	if err := e.RemoveImage(t.Context(), other); err != nil {
		t.Errorf("RemoveImage of a removed image: %v", err)
	}
	if ok, err := e.ImageExists(t.Context(), image); !ok || err != nil {
		t.Errorf("ImageExists(%s) = %v, %v; the other image must stay", image, ok, err)
	}
}

func TestInspectImageVolumesAndDigest(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	host := newRegistry(t)
	ref := host + "/hoist/" + id + ":test"
	buildImage(t, e, id, ref, nil, "VOLUME /data /cache")

	cfg, err := e.InspectImage(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Volumes, []string{"/cache", "/data"}) {
		t.Errorf("Volumes = %q, want [/cache /data]", cfg.Volumes)
	}
	if cfg.Digest != "" {
		t.Errorf("Digest of a never-pushed image = %q, want none", cfg.Digest)
	}
	digest, err := e.Push(t.Context(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.podman {
		// Podman's RepoDigests name local manifests: no digest is known.
		if cfg, err = e.InspectImage(t.Context(), ref); err != nil || cfg.Digest != "" {
			t.Errorf("Digest after push on Podman = %q, %v; want none", cfg.Digest, err)
		}
		return
	}
	if cfg, err = e.InspectImage(t.Context(), ref); err != nil || cfg.Digest != digest {
		t.Errorf("Digest after push = %q, %v; want %s", cfg.Digest, err, digest)
	}
	if cfg, err = e.InspectImage(t.Context(), host+"/hoist/"+id+"@"+digest); err != nil || cfg.Digest != digest {
		t.Errorf("Digest by digest = %q, %v; want %s", cfg.Digest, err, digest)
	}
	// Another repository's name for the same image has no digest there.
	other := id + "-other:x"
	if _, err := e.cli.ImageTag(t.Context(), client.ImageTagOptions{Source: ref, Target: other}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.RemoveImage(context.Background(), other) })
	if cfg, err = e.InspectImage(t.Context(), other); err != nil || cfg.Digest != "" {
		t.Errorf("Digest of %s = %q, %v; want none", other, cfg.Digest, err)
	}
	if cfg, err = e.InspectImage(t.Context(), cfg.ID); err != nil || cfg.Digest != "" {
		t.Errorf("Digest by ID = %q, %v; want none", cfg.Digest, err)
	}
}

// moreCaps reports whether the CapEff line priv grants every capability
// plain does, CAP_SYS_ADMIN (21) and more. (Docker grants a privileged
// container all bits, Podman all but those the host lacks.)
func moreCaps(priv, plain string) bool {
	parse := func(line string) uint64 {
		v, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "CapEff:")), 16, 64)
		return v
	}
	p, q := parse(priv), parse(plain)
	return p != q && p&q == q && p&(1<<21) != 0
}

// TestExec: a command runs beside the container's own, as its user, and
// its output and status come back; a container that has exited has none.
func TestExec(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildImage(t, e, id, id+":test", nil, "USER 65534", "ENV GREETING=hello")
	cid := start(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"sleep", "300"}})
	var out bytes.Buffer
	code, err := e.Exec(t.Context(), cid, []string{"sh", "-c", `echo "$GREETING $(id -u)"; echo to-stderr >&2; exit 3`}, &out)
	if err != nil || code != 3 {
		t.Errorf("Exec = %d, %v; want 3", code, err)
	}
	if got := out.String(); !strings.Contains(got, "hello 65534\n") || !strings.Contains(got, "to-stderr\n") {
		t.Errorf("Exec output %q; want the container's environment and user, and stderr", got)
	}
	gone := start(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"true"}})
	if _, err := e.WaitContainer(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	if code, err := e.Exec(t.Context(), gone, []string{"true"}, nil); err == nil {
		t.Errorf("Exec in an exited container = %d, nil; want an error", code)
	}
}

// TestReleaseImage: an image whose tag a later build took is removed; one
// with a tag, or a container, stays. Not in parallel: its removals would
// race the cache lookups of the other tests' FROM scratch builds (see
// Build); a local CI run lost TestBuildTriesAgainWhenTheEngineLosesAnImage
// to such a race once.
func TestReleaseImage(t *testing.T) {
	e := newEngine(t)
	id := uniqueID(t)
	imageID := func(ref string) string {
		t.Helper()
		cfg, err := e.InspectImage(t.Context(), ref)
		if err != nil {
			t.Fatalf("InspectImage(%s): %v", ref, err)
		}
		return cfg.ID
	}
	release := func(img string, want, stays bool) {
		t.Helper()
		removed, err := e.ReleaseImage(t.Context(), img)
		if err != nil || removed != want {
			t.Errorf("ReleaseImage(%s) = %v, %v; want %v", img, removed, err, want)
		}
		if exists, err := e.ImageExists(t.Context(), img); err != nil || exists != stays {
			t.Errorf("after ReleaseImage(%s): ImageExists = %v, %v; want %v", img, exists, err, stays)
		}
	}

	old := imageID(buildImage(t, e, id, id+":a", nil, "LABEL v=1"))
	if now := imageID(buildImage(t, e, id, id+":a", nil, "LABEL v=2")); now == old {
		t.Fatalf("the second build of %s:a made the same image %s", id, old)
	}
	release(old, true, false)
	release(old, false, false) // gone already

	tagged := imageID(buildImage(t, e, id, id+":b", nil, "LABEL v=3"))
	release(tagged, false, true)

	used := imageID(buildImage(t, e, id, id+":c", nil, "LABEL v=4"))
	start(t, e, id, pipeline.ContainerSpec{Image: used, Cmd: []string{"sleep", "300"}})
	buildImage(t, e, id, id+":c", nil, "LABEL v=5")
	release(used, false, true)
}
