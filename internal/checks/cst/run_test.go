package cst

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/checks/checktest"
	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

// mainDockerfile is the image most fixtures run against; the comments of
// testdata/*.cst.yaml rely on what it holds.
const mainDockerfile = `FROM scratch
COPY rootfs/ /
COPY files/ /
RUN mkdir -m 1777 /tmp && chmod 1777 /tmp \
 && chmod 0750 /app/run.sh && chown 1000:2000 /app/run.sh \
 && chmod 0644 /app/data.txt && chmod 0641 /app/otherx \
 && mkdir -p /usr/local/bin && touch /usr/local/bin/suid && chmod 4755 /usr/local/bin/suid \
 && ln -s /app/data.txt /etc/datalink && ln -s app /alias && echo gone > /app/removed
RUN rm /app/removed
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GREETING=hello EMPTY_VAR="" VERSION=1.2.3 DATA_DIR=/app
LABEL org.example.vendor="ACME Inc" build-date="2026-11-22T05:00:00Z" empty-label=""
EXPOSE 8080 53/udp
VOLUME /data
WORKDIR /app
USER 1000
ENTRYPOINT ["/bin/echo", "ENTRYPOINT-RAN"]
CMD ["default", "cmd"]
`

var mainFiles = map[string]string{
	"files/etc/passwd":   "root:x:0:0:root:/root:/bin/sh\napp:x:1000:2000:app:/app:/bin/sh\n",
	"files/etc/group":    "root:x:0:\napp:x:2000:\n",
	"files/app/data.txt": "hello structure test\nversion=1.2.3\n",
	"files/app/run.sh":   "#!/bin/sh\necho run\n",
	"files/app/otherx":   "x\n",
}

// fixture is an image under test: its local reference, merged filesystem
// and configuration.
type fixture struct {
	ref  string
	fsys *imagefs.FS
	cfg  pipeline.ImageConfig
}

// env is the engine, an embedded registry and the fixture images, built once.
type env struct {
	*checktest.Env
	images map[string]fixture
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

// setup builds the fixture images once for the package's tests and removes
// them when TestMain ends.
func setup(t *testing.T) *env {
	t.Helper()
	host := testenv.DockerHost(t)
	envOnce.Do(func() { shared, envErr = build(t, host) })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

func build(t *testing.T, host string) (*env, error) {
	root, err := os.MkdirTemp("", "cst-test-")
	if err != nil {
		return nil, err
	}
	ce, stop, err := checktest.Start(context.Background(), host, filepath.Join(root, "registry"))
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	cleanups = append(cleanups, func() { stop(); os.RemoveAll(root) })
	v := &env{Env: ce, images: map[string]fixture{}}
	for name, spec := range map[string]struct {
		dockerfile string
		files      map[string]string
	}{
		"main": {mainDockerfile, mainFiles},
		"bare": {"FROM scratch\nCOPY rootfs/ /\n", nil},
		"nosh": {"FROM scratch\nCOPY rootfs/bin/busybox /bin/busybox\n", nil},
	} {
		// In a folder of the package's, not the test's: the images outlive it.
		f, err := v.push(t, filepath.Join(root, name), checktest.Image{Dockerfile: spec.dockerfile, Busybox: true, Files: spec.files, Repo: "cst"})
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		v.images[name] = f
	}
	return v, nil
}

// push builds img in dir, pushes it to the registry and reads it back; the
// local image is removed when TestMain ends.
func (v *env) push(t *testing.T, dir string, img checktest.Image) (fixture, error) {
	ctx := context.Background()
	checktest.WriteContext(t, dir, img)
	ref, _, err := v.BuildPush(ctx, dir, img)
	if err != nil {
		return fixture{}, err
	}
	cleanups = append(cleanups, func() { v.Remove(ref) })
	fsys, err := imagefs.Read(ctx, v.Registry, ref, imagefs.Options{})
	if err != nil {
		return fixture{}, err
	}
	cfg, err := v.Registry.RemoteConfig(ctx, ref)
	if err != nil {
		return fixture{}, err
	}
	return fixture{ref: ref, fsys: fsys, cfg: cfg}, nil
}

// golden is a testdata/NAME.golden.json: the image a file runs against and
// each test's expected result, "pass" or "fail | a part of the detail".
type golden struct {
	Image   string            `json:"image"`
	Results map[string]string `json:"results"`
}

// runner returns a Runner whose containers carry a label of their own, and
// a check that nothing it made is left.
func runner(t *testing.T, v *env) (*Runner, func()) {
	r := New(v.Engine)
	mark := fmt.Sprintf("cst-test-%x", rand.Uint64())
	r.labels = map[string]string{"io.hoist.check": mark}
	return r, func() {
		t.Helper()
		for _, what := range [][]string{{"ps", "-aq"}, {"images", "-q"}} {
			out, err := exec.Command("docker", append(what, "--filter", "label=io.hoist.check="+mark)...).Output()
			if err != nil {
				t.Fatalf("docker %v: %v", what, err)
			}
			if s := strings.TrimSpace(string(out)); s != "" {
				t.Errorf("docker %s: left behind: %s", what[0], s)
			}
		}
	}
}

// TestGolden runs every testdata/*.cst.yaml against its image and compares
// each test's result with the golden file beside it.
func TestGolden(t *testing.T) {
	v := setup(t)
	files, err := Find("testdata", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("Find found %v", files)
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			var want golden
			gdata, err := os.ReadFile(filepath.Join("testdata", strings.TrimSuffix(name, ".cst.yaml")+".golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(gdata, &want); err != nil {
				t.Fatal(err)
			}
			img, ok := v.images[want.Image]
			if !ok {
				t.Fatalf("no image %q", want.Image)
			}
			f, err := Parse(name, data)
			if err != nil {
				t.Fatal(err)
			}
			r, leftovers := runner(t, v)
			var log bytes.Buffer
			results := r.Run(t.Context(), f, img.ref, img.fsys, img.cfg, &log)
			defer func() {
				if t.Failed() {
					t.Logf("log:\n%s", log.String())
				}
			}()
			leftovers()
			checkResults(t, name, results, want.Results)
		})
	}
}

// checkResults compares results with want (test name → "pass" or
// "fail | detail part"): one result per test, in file order.
func checkResults(t *testing.T, file string, results []pipeline.CheckResult, want map[string]string) {
	t.Helper()
	if len(results) != len(want) {
		t.Errorf("%d results, want %d", len(results), len(want))
	}
	prefix := "structure-test/" + file + "/"
	lastLine := 0
	seen := map[string]bool{}
	for _, r := range results {
		name, ok := strings.CutPrefix(r.ID, prefix)
		if !ok {
			t.Errorf("result ID %q lacks %q", r.ID, prefix)
			continue
		}
		seen[name] = true
		if r.Group != pipeline.GroupStructureTest || !r.Blocking || r.Description == "" {
			t.Errorf("%s: group %q, blocking %v, description %q", name, r.Group, r.Blocking, r.Description)
		}
		var line, col int
		if _, err := fmt.Sscanf(strings.TrimPrefix(r.Location, file+":"), "%d:%d", &line, &col); err != nil || !strings.HasPrefix(r.Location, file+":") {
			t.Errorf("%s: location %q, want %s:line:col", name, r.Location, file)
		}
		if line < lastLine {
			t.Errorf("%s at %s comes after line %d: results are not in file order", name, r.Location, lastLine)
		}
		lastLine = line
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected result %q: %s %q", name, r.Status, r.Detail)
			continue
		}
		status, part, _ := strings.Cut(w, " | ")
		if string(r.Status) != status || !strings.Contains(r.Detail, part) {
			t.Errorf("%s (%s): got %s %q\n\twant %s containing %q\n\toutput: %s", name, r.Location, r.Status, r.Detail, status, part, r.Output)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no result for %q", name)
		}
	}
}

// TestMetadataFields checks each metadataTest field alone, passing and
// failing, against the main image's configuration.
func TestMetadataFields(t *testing.T) {
	v := setup(t)
	img := v.images["main"]
	bare := v.images["bare"]
	tests := []struct {
		yaml string
		bare bool
		pass bool
	}{
		{"envVars: [{key: GREETING, value: hello}]", false, true},
		{"envVars: [{key: GREETING, value: hell}]", false, false},
		{"envVars: [{key: GREETING, value: hel, isRegex: true}]", false, true},
		{"envVars: [{key: GREETING, value: '^hel$', isRegex: true}]", false, false},
		{"envVars: [{key: EMPTY_VAR, value: ''}]", false, true},
		{"envVars: [{key: NOPE, value: ''}]", false, false},
		{"unboundEnvVars: [{key: NOPE}]", false, true},
		{"unboundEnvVars: [{key: EMPTY_VAR}]", false, false},
		{"labels: [{key: org.example.vendor, value: ACME Inc}]", false, true},
		{"labels: [{key: org.example.vendor, value: acme inc}]", false, false},
		{"labels: [{key: build-date, value: '^2026-', isRegex: true}]", false, true},
		{"labels: [{key: build-date, value: '^2025-', isRegex: true}]", false, false},
		{"labels: [{key: empty-label, value: ''}]", false, true},
		{"labels: [{key: missing, value: ''}]", false, false},
		{"exposedPorts: ['8080', '53']", false, true},
		{"exposedPorts: ['8080/tcp']", false, false},
		{"exposedPorts: ['8081']", false, false},
		{"unexposedPorts: ['80', '8080/tcp']", false, true},
		{"unexposedPorts: ['53']", false, false},
		{"volumes: [/data]", false, true},
		{"volumes: [/data/]", false, false},
		{"unmountedVolumes: [/app]", false, true},
		{"unmountedVolumes: [/data]", false, false},
		{"entrypoint: [/bin/echo, ENTRYPOINT-RAN]", false, true},
		{"entrypoint: [/bin/echo]", false, false},
		{"entrypoint: []", false, false},
		{"entrypoint: []", true, true},
		{"entrypoint: [sh]", true, false},
		{"cmd: [default, cmd]", false, true},
		{"cmd: [cmd, default]", false, false},
		{"cmd: []", false, false},
		{"cmd: []", true, true},
		{"workdir: /app", false, true},
		{"workdir: /app/", false, false},
		{"workdir: /", true, false},
		{"user: '1000'", false, true},
		{"user: root", false, false},
		{"user: root", true, false},
	}
	r, leftovers := runner(t, v)
	for _, tt := range tests {
		f, err := Parse("m.cst.yaml", []byte("schemaVersion: 2.0.0\nmetadataTest:\n  "+tt.yaml+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", tt.yaml, err)
		}
		use := img
		if tt.bare {
			use = bare
		}
		res := r.Run(t.Context(), f, use.ref, use.fsys, use.cfg, &bytes.Buffer{})
		if len(res) != 1 || (res[0].Status == pipeline.CheckPass) != tt.pass {
			t.Errorf("%s (bare %v): %+v, want pass %v", tt.yaml, tt.bare, res, tt.pass)
		}
	}
	leftovers()
}

// TestCommandTimeout: a command that outlives CommandTimeout fails, and its
// container is removed.
func TestCommandTimeout(t *testing.T) {
	v := setup(t)
	img := v.images["main"]
	r, leftovers := runner(t, v)
	r.CommandTimeout = 2 * time.Second
	f, err := Parse("t.cst.yaml", []byte("schemaVersion: 2.0.0\ncommandTests:\n  - name: sleeps\n    command: sleep\n    args: ['30']\n"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var log bytes.Buffer
	res := r.Run(t.Context(), f, img.ref, img.fsys, img.cfg, &log)
	if len(res) != 1 || res[0].Status != pipeline.CheckFail || !strings.Contains(res[0].Detail, "timed out after 2s") {
		t.Errorf("got %+v\n%s", res, log.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s", d)
	}
	leftovers()
}

// TestCancelled: a cancelled run still gives one failed result per test and
// leaves nothing behind.
func TestCancelled(t *testing.T) {
	v := setup(t)
	img := v.images["main"]
	r, leftovers := runner(t, v)
	f, err := Parse("c.cst.yaml", []byte(`schemaVersion: 2.0.0
commandTests:
  - name: setup then sleep
    setup: [[touch, /tmp/a]]
    command: sleep
    args: ['30']
  - name: never starts
    command: 'true'
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(3*time.Second, cancel)
	res := r.Run(ctx, f, img.ref, img.fsys, img.cfg, &bytes.Buffer{})
	if len(res) != 2 || res[0].Status != pipeline.CheckFail || res[1].Status != pipeline.CheckFail || !strings.Contains(res[1].Detail, "not run: context canceled") {
		t.Errorf("got %+v", res)
	}
	leftovers()
}

// TestOutputBounded: a chatty command is matched on its first MaxOutput
// bytes and reported in ReportOutput bytes.
func TestOutputBounded(t *testing.T) {
	v := setup(t)
	img := v.images["main"]
	r, leftovers := runner(t, v)
	r.MaxOutput, r.ReportOutput = 4096, 100
	f, err := Parse("o.cst.yaml", []byte(`schemaVersion: 2.0.0
commandTests:
  - name: chatty
    command: sh
    args: [-c, 'yes line | head -n 100000; echo END']
    expectedOutput: ['^line\nline\n']
    excludedOutput: [END]
`))
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(t.Context(), f, img.ref, img.fsys, img.cfg, &bytes.Buffer{})
	if len(res) != 1 || res[0].Status != pipeline.CheckPass || len(res[0].Output) > 1000 || !strings.Contains(res[0].Output, "more bytes]") {
		t.Errorf("got %+v", res)
	}
	leftovers()
}

// TestEmptyFile: a file with no tests is one failed result (upstream fails a
// run without tests).
func TestEmptyFile(t *testing.T) {
	v := setup(t)
	img := v.images["bare"]
	f, err := Parse("e.cst.yaml", []byte("schemaVersion: 2.0.0\ncommandTests: []\nmetadataTest: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := runner(t, v)
	res := r.Run(t.Context(), f, img.ref, img.fsys, img.cfg, &bytes.Buffer{})
	if len(res) != 1 || res[0].Status != pipeline.CheckFail || !strings.Contains(res[0].Detail, "has no tests") || res[0].ID != "structure-test/e.cst.yaml" {
		t.Errorf("got %+v", res)
	}
}

// TestDuplicateNames: tests with the same name get distinct IDs.
func TestDuplicateNames(t *testing.T) {
	v := setup(t)
	img := v.images["bare"]
	f, err := Parse("d.cst.yaml", []byte("schemaVersion: 2.0.0\nfileExistenceTests:\n  - {name: x, path: /bin}\n  - {name: x, path: /nope}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := runner(t, v)
	res := r.Run(t.Context(), f, img.ref, img.fsys, img.cfg, &bytes.Buffer{})
	var ids []string
	for _, x := range res {
		ids = append(ids, x.ID+" "+string(x.Status))
	}
	want := []string{"structure-test/d.cst.yaml/x pass", "structure-test/d.cst.yaml/x (2) fail"}
	if !slices.Equal(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
}
