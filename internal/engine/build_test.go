package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/testenv"
)

func TestBuildLabelsArgsAndConfig(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	dir := newContext(t, e, id, map[string]string{
		"Dockerfile": dockerfile(id,
			"ARG GREETING",
			`RUN echo "greeting=$GREETING"`,
			"ENV A=b",
			"WORKDIR /w",
			"EXPOSE 8080 53/udp",
			"USER 1000",
			`CMD ["sh"]`),
	})
	var log bytes.Buffer
	spec := pipeline.BuildSpec{
		ContextDir: dir,
		Dockerfile: "Dockerfile",
		Tags:       []string{id + ":test", id + ":other"},
		Labels:     map[string]string{"org.hoistci.commit": "abc123"},
		BuildArgs:  map[string]string{"GREETING": "hello"},
	}
	imageID, err := e.Build(t.Context(), spec, &log)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "greeting=hello") {
		t.Errorf("log lacks the build arg's output:\n%s", log.String())
	}
	got, err := e.InspectImage(t.Context(), id+":other")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != imageID {
		t.Errorf("InspectImage ID = %q, Build returned %q", got.ID, imageID)
	}
	if got.Size <= 0 {
		t.Errorf("Size = %d, want > 0", got.Size)
	}
	got.ID, got.Size = "", 0
	delete(got.Labels, "io.buildah.version") // Podman's builder adds it
	want := pipeline.ImageConfig{
		Cmd:          []string{"sh"},
		User:         "1000",
		WorkingDir:   "/w",
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=b"},
		Labels:       map[string]string{testLabel: id, "org.hoistci.commit": "abc123"},
		ExposedPorts: []string{"53/udp", "8080/tcp"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InspectImage (-want +got):\n%s", diff)
	}
}

func TestBuildFailingStep(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	dir := newContext(t, e, id, map[string]string{
		"Dockerfile": dockerfile(id, "RUN echo step-output && false"),
	})
	var log bytes.Buffer
	_, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{id + ":test"}}, &log)
	// Docker: "returned a non-zero code: 1"; Podman: "exit status 1".
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code") && !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("Build error = %v, want the engine's \"returned a non-zero code\"", err)
	}
	var engineErr *EngineError
	if !errors.As(err, &engineErr) {
		t.Errorf("Build error %T is not an *EngineError", err)
	}
	if !strings.Contains(log.String(), "step-output") {
		t.Errorf("log lacks the step's output:\n%s", log.String())
	}
}

func TestBuildDockerfileOutsideLinkedContext(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	root := t.TempDir()
	ctxDir := filepath.Join(root, "ctx")
	testenv.BusyboxRootfs(t, ctxDir)
	writeFiles(t, root, map[string]string{
		"ctx/marker":        "from the context\n",
		"other/Dockerfile":  dockerfile(id, "COPY marker /marker"),
		"other/.dockerfile": "not this one",
	})
	t.Cleanup(func() { removeLabelled(t, e, id) })
	link := filepath.Join(root, "link") // a linked context is walked too
	if err := os.Symlink("ctx", link); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	spec := pipeline.BuildSpec{ContextDir: link, Dockerfile: "../other/Dockerfile", Tags: []string{id + ":test"}}
	if _, err := e.Build(t.Context(), spec, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	runOK(t, e, id+":test", "grep -q 'from the context' /marker")
}

func TestBuildDockerignore(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	dir := newContext(t, e, id, map[string]string{
		"Dockerfile":         dockerfile(id, "COPY files/ /ctx/"),
		".dockerignore":      "# comment\nfiles/excluded\nfiles/sub\n!files/sub/keep\n**/*.tmp\nDockerfile\n",
		"files/kept":         "k",
		"files/excluded":     "x",
		"files/sub/dropped":  "x",
		"files/sub/keep":     "k",
		"files/deep/a/b.tmp": "x",
	})
	if err := os.Symlink("kept", filepath.Join(dir, "files", "link")); err != nil {
		t.Fatal(err)
	}
	escape := !e.podman // Podman refuses a context with a link leading out (500)
	if escape {
		if err := os.Symlink("../../../../etc/shadow", filepath.Join(dir, "files", "escape")); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{id + ":test"}}, &log); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	script := "test ! -e /ctx/excluded && test -e /ctx/kept && test ! -e /ctx/sub/dropped && " +
		"test -e /ctx/sub/keep && test ! -e /ctx/deep/a/b.tmp && test -L /ctx/link"
	if escape {
		script += " && test \"$(readlink /ctx/escape)\" = ../../../../etc/shadow"
	}
	runOK(t, e, id+":test", script)
}

// runOK runs script in image and fails the test unless it exits 0.
func runOK(t *testing.T, e *Engine, image, script string) {
	t.Helper()
	var log bytes.Buffer
	res, err := e.Run(t.Context(), pipeline.RunSpec{Image: image, Cmd: []string{"sh", "-c", script}}, &log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.Exited || res.ExitCode != 0 {
		t.Errorf("%s: got %+v, want exit 0\n%s", script, res, log.String())
	}
}

// TestBuildLabelsInOneStep: Hoist's labels reach the image as given,
// through one LABEL step (dockerd's classic builder makes a step, a
// container and a commit of each label given as a build option), also
// under a Dockerfile's "# escape=`"; one with quotes, dollars and
// backslashes in it, as a build option; the Dockerfile carrying them stays
// out of what COPY . sees, and a second build with other label values
// still finds COPY . in the cache.
func TestBuildLabelsInOneStep(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	for _, escape := range []string{"", "# escape=`\n"} {
		id := uniqueID(t)
		dir := newContext(t, e, id, map[string]string{
			"Dockerfile": escape + dockerfile(id, "COPY . /ctx/"),
			"file":       "f",
		})
		labels := map[string]string{
			"org.opencontainers.image.source": `https://example.com/a.git`,
			"io.hoist.odd":                    `say "hi" to $HOME \ and ` + "`tick`",
			"io.hoist.build":                  "1",
		}
		build := func(labels map[string]string) string {
			var log bytes.Buffer
			if _, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{id + ":test"}, Labels: labels}, &log); err != nil {
				t.Fatalf("Build: %v\n%s", err, log.String())
			}
			return log.String()
		}
		log := build(labels)
		if n := strings.Count(log, ` : LABEL "io.hoist.build"="1" "org.opencontainers.image.source"="https://example.com/a.git"`); n != 1 && !e.podman || strings.Contains(log, "LABEL io.hoist.build=") {
			t.Errorf("want the labels in one LABEL step:\n%s", log)
		}
		got, err := e.InspectImage(t.Context(), id+":test")
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range labels {
			if got.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, got.Labels[k], v)
			}
		}
		runOK(t, e, id+":test", "test -e /ctx/file && test ! -e /ctx/.dockerfile.hoist && test ! -e /ctx/.dockerignore")
		labels["io.hoist.build"] = "2"
		if log := build(labels); !e.podman && !strings.Contains(log, "Using cache") {
			t.Errorf("the second build did not use the cache for COPY .:\n%s", log)
		}
	}
}

// TestBuildTriesAgainWhenTheEngineLosesAnImage: the classic builder's
// "unable to find image" (an image another removal took from its cache
// lookup, which for FROM scratch reads every parentless image) makes
// Build build again, more than once, up to lostImageTries builds; a
// failure that is not a lost image is not tried again.
func TestBuildTriesAgainWhenTheEngineLosesAnImage(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	builds, lose := 0, 0
	e := engineVia(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/build") {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			builds++
			lost := lose > 0
			if lost {
				lose--
			}
			mu.Unlock()
			if !lost {
				next.ServeHTTP(w, r)
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintln(w, `{"stream":"Step 1/3 : FROM scratch\n"}`)
			fmt.Fprintln(w, `{"errorDetail":{"message":"unable to find image \"sha256:620e5e8e\""},"error":"unable to find image \"sha256:620e5e8e\""}`)
		})
	})
	id := uniqueID(t)
	dir := newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id)})
	try := func(lost int) (int, string, error) {
		mu.Lock()
		builds, lose = 0, lost
		mu.Unlock()
		var log bytes.Buffer
		_, err := e.Build(t.Context(), pipeline.BuildSpec{ContextDir: dir, Tags: []string{id + ":test"}}, &log)
		mu.Lock()
		defer mu.Unlock()
		return builds, log.String(), err
	}

	n, log, err := try(lostImageTries - 1)
	if err != nil {
		t.Fatalf("Build after %d lost images: %v\n%s", lostImageTries-1, err, log)
	}
	if n != lostImageTries || strings.Count(log, "the engine lost an image during the build") != lostImageTries-1 {
		t.Errorf("%d builds, log:\n%s\nwant %d builds, each lost one said", n, log, lostImageTries)
	}

	n, log, err = try(lostImageTries + 3)
	if !lostImage(err) || n != lostImageTries {
		t.Errorf("Build that always loses an image: %d builds, %v; want %d and the engine's error\n%s", n, err, lostImageTries, log)
	}

	mu.Lock()
	builds, lose = 0, 0
	mu.Unlock()
	var failing bytes.Buffer
	_, err = e.Build(t.Context(), pipeline.BuildSpec{ContextDir: newContext(t, e, id, map[string]string{"Dockerfile": dockerfile(id, "RUN false")}), Tags: []string{id + ":fails"}}, &failing)
	mu.Lock()
	n = builds
	mu.Unlock()
	if err == nil || lostImage(err) || n != 1 {
		t.Errorf("a failing step: %v after %d builds; want its error after one\n%s", err, n, failing.String())
	}
}
