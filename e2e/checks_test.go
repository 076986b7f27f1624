package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestChecks runs the test and scan library end to end through hoist run,
// over git served by HTTP and the real engine: a project whose every user
// test format passes and gets scanned, with its SBOM attached in the
// registry; a private key planted and deleted, which blocks delivery; a
// failing compose sut; and a Dockerfile that does not parse.
func TestChecks(t *testing.T) {
	testenv.DockerHost(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	ctx := context.Background()
	if r := hoist(t, nil, "run", "--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/busybox", "--data", data, "--registry-addr", addr); r.code != 0 {
		t.Fatalf("delivering busybox:\n%s", r)
	}

	full := testenv.GitRepo(t, map[string]string{
		"Dockerfile": busyboxFrom + `LABEL org.opencontainers.image.title="full" org.opencontainers.image.description="every test format"
COPY index.html /www/index.html
EXPOSE 8080
USER 65534
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
`,
		"index.html": "hello from full\n",
		"cccp.yml":   "job-id: full\ntest-script: test.sh\nchecks:\n  ports: blocking\n",
		"test.sh":    "#!/bin/sh\necho \"script sees $IMAGE at $HOIST_COMMIT\"\n",
		"image.cst.yaml": `schemaVersion: 2.0.0
metadataTest:
  exposedPorts: ["8080"]
  user: "65534"
fileContentTests:
  - name: page
    path: /www/index.html
    expectedContents: ["hello from full"]
commandTests:
  - name: echo
    command: echo
    args: ["structure"]
    expectedOutput: ["^structure\\n$"]
`,
		"docker-compose.test.yml": `services:
  app:
    build: .
  sut:
    image: examples/busybox:latest
    depends_on: [app]
    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://app:8080/ | grep -q 'hello from full' && exit 0; sleep 0.5; done; exit 1"]
`,
	})
	leaky := testenv.GitRepo(t, map[string]string{
		"Dockerfile": busyboxFrom + `RUN mkdir -p /root/.ssh && printf '%s\n' '-----BEGIN OPENSSH PRIVATE KEY-----' 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW' '-----END OPENSSH PRIVATE KEY-----' > /root/.ssh/id_ed25519
RUN rm /root/.ssh/id_ed25519
CMD ["true"]
`,
	})
	sutFails := testenv.GitRepo(t, map[string]string{
		"Dockerfile":              busyboxFrom + "CMD [\"true\"]\n",
		"docker-compose.test.yml": "services:\n  sut:\n    build: .\n    command: [\"sh\", \"-c\", \"echo the sut fails; exit 3\"]\n",
	})
	unparsable := testenv.GitRepo(t, map[string]string{
		"Dockerfile": busyboxFrom + "RUN true\nFORM scratch\n",
	})
	base := serveRepos(t, map[string]string{"full.git": full, "leaky.git": leaky, "sut.git": sutFails, "bad.git": unparsable})
	idx := writeIndex(t, "demo",
		entry(1, "demo", "full", base+"/full.git", ""),
		entry(2, "demo", "leaky", base+"/leaky.git", ""),
		entry(3, "demo", "sut", base+"/sut.git", ""),
		entry(4, "demo", "bad", base+"/bad.git", ""),
	)
	r := hoist(t, nil, "run", "--index", idx, "--data", data, "--registry-addr", addr)
	if r.code != 1 {
		t.Fatalf("want exit 1 (three projects fail):\n%s", r)
	}
	st := openStore(t, data)

	// Every format ran and passed; the scan and the SBOM were stored.
	b, stages := lastBuild(t, st, "demo/full:latest")
	if b.Status != pipeline.StatusSucceeded {
		t.Fatalf("demo/full: %+v\n%s", b, stageLog(t, st, b.ID, pipeline.StageTest))
	}
	for _, s := range []pipeline.StageName{pipeline.StageLint, pipeline.StageTest, pipeline.StageScan} {
		if stages[s].Status != pipeline.StatusSucceeded {
			t.Errorf("demo/full: stage %s is %s (%s)", s, stages[s].Status, stages[s].Error)
		}
	}
	results, err := st.CheckResults(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]pipeline.CheckResult{}
	for _, res := range results {
		byID[res.ID] = res
	}
	for _, id := range []string{"starts", "config", "ports", "no-hard-coded-passwords", "secrets", "size", "test-script", "autotest"} {
		if res, ok := byID[id]; !ok || res.Status != pipeline.CheckPass {
			t.Errorf("demo/full: %s is %+v (present %v), want pass", id, res, ok)
		}
	}
	cst := 0
	for id, res := range byID {
		if strings.HasPrefix(id, "structure-test/") {
			cst++
			if res.Status != pipeline.CheckPass {
				t.Errorf("demo/full: %s is %s: %s", id, res.Status, res.Detail)
			}
		}
	}
	if cst < 3 { // the metadata test, the file content test and the command test
		t.Errorf("demo/full: %d structure-test results, want one per test of image.cst.yaml", cst)
	}
	if !byID["ports"].Blocking {
		t.Error("demo/full: cccp.yml made ports blocking, but it is not")
	}

	// The JUnit report is stored with the build and written to disk.
	junitFile := filepath.Join(data, "artifacts", strconv.FormatInt(b.ID, 10), "junit.xml")
	raw, err := os.ReadFile(junitFile)
	if err != nil {
		t.Fatalf("no JUnit report on disk: %v", err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(raw, &suites); err != nil || suites.Tests != len(results) || suites.Failures != 0 {
		t.Errorf("junit.xml: %d tests %d failures (%v), want %d and 0", suites.Tests, suites.Failures, err, len(results))
	}

	// The SBOM is attached to the image in the registry: the referrers API
	// of the embedded registry lists it, and it reads back.
	srv, err := registry.Serve(ctx, registry.ServerConfig{Addr: addr, RootDir: filepath.Join(data, "registry")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + addr + "/v2/demo/full/referrers/" + b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	err = json.NewDecoder(resp.Body).Decode(&index)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(index.Manifests) != 1 || index.Manifests[0].ArtifactType != "application/vnd.cyclonedx+json" {
		t.Fatalf("referrers of demo/full@%s: %d %+v %v", b.Digest, resp.StatusCode, index, err)
	}
	sbom, err := registry.New(registry.Options{}).FetchArtifact(ctx, addr+"/demo/full@"+index.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct {
				Type string `json:"type"`
			} `json:"component"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(sbom, &bom); err != nil || bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Type != "container" {
		t.Errorf("the SBOM read back from the registry: %+v %v\n%.300s", bom, err, sbom)
	}
	srv.Close()

	// A re-scan without a rebuild finds nothing changed.
	r = hoist(t, nil, "scan", "--data", data, "--registry-addr", addr, "demo/full")
	if r.code != 0 {
		t.Fatalf("hoist scan:\n%s", r)
	}
	mustContain(t, "hoist scan", r.stdout, "re-scanning "+addr+"/demo/full:latest", "since the previous scan (build #1", "no changes", "os-packages")
	scans, err := st.Scans(ctx, "demo/full:latest", 0)
	if err != nil || len(scans) != 2 || scans[0].Cause != "hoist scan" || scans[0].BuildID != 0 || scans[1].BuildID != b.ID {
		t.Errorf("scans of demo/full: %+v %v", scans, err)
	}
	// The re-scan left no tag of its own in the engine.
	if tags := rescanTags(t, addr); len(tags) > 0 {
		t.Errorf("a re-scan left local tags: %q", tags)
	}
	// The embedded registry on another address still has the image: found
	// by repository and digest.
	moved := freeAddr(t)
	r = hoist(t, nil, "scan", "--data", data, "--registry-addr", moved, "demo/full")
	if r.code != 0 {
		t.Fatalf("hoist scan with the registry on %s:\n%s", moved, r)
	}
	mustContain(t, "hoist scan (moved)", r.stdout, "since the previous scan", "no changes", "updates")
	if strings.Contains(r.stdout, "could not pull") {
		t.Errorf("the moved re-scan did not pull the image:\n%s", r.stdout)
	}
	if tags := rescanTags(t, moved); len(tags) > 0 {
		t.Errorf("a re-scan left local tags: %q", tags)
	}

	// A private key planted in one layer and deleted in the next blocks
	// delivery.
	b, stages = lastBuild(t, st, "demo/leaky:latest")
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageTest || !strings.Contains(b.Reason, "secrets") {
		t.Errorf("demo/leaky: %+v", b)
	}
	if stages[pipeline.StageDeliver].Status != pipeline.StatusSkipped {
		t.Errorf("demo/leaky was delivered: %+v", stages[pipeline.StageDeliver])
	}
	mustContain(t, "leaky test log", stageLog(t, st, b.ID, pipeline.StageTest), "/root/.ssh/id_ed25519")

	// A failing compose sut blocks delivery, with its exit code.
	b, _ = lastBuild(t, st, "demo/sut:latest")
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageTest || !strings.Contains(b.Reason, "autotest") {
		t.Errorf("demo/sut: %+v", b)
	}
	mustContain(t, "sut test log", stageLog(t, st, b.ID, pipeline.StageTest), "the sut fails")

	// A Dockerfile that does not parse fails at lint, at its line, before
	// the engine builds anything.
	b, stages = lastBuild(t, st, "demo/bad:latest")
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageLint || !strings.Contains(b.Reason, "Dockerfile:3") {
		t.Errorf("demo/bad: %+v", b)
	}
	if stages[pipeline.StageBuild].Status != pipeline.StatusSkipped {
		t.Errorf("demo/bad was built: %+v", stages[pipeline.StageBuild])
	}

	images, err := st.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range images {
		if img.Project != "demo/full:latest" && strings.HasPrefix(img.Project, "demo/") {
			t.Errorf("delivered %s of a failing project", img.Image)
		}
	}
}

// rescanTags lists the engine's tags of re-scans from the registry at
// host ("host/repo:hoist-rescan…").
func rescanTags(t *testing.T, host string) []string {
	t.Helper()
	// Podman's image list can fail while another image is being removed:
	// ask again before giving up.
	var out []byte
	var err error
	for range 3 {
		var stderr bytes.Buffer
		cmd := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}")
		cmd.Stderr = &stderr
		if out, err = cmd.Output(); err == nil {
			break
		}
		err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("docker images: %v", err)
	}
	var tags []string
	for _, l := range strings.Fields(string(out)) {
		if strings.HasPrefix(l, host+"/") && strings.Contains(l, ":hoist-rescan") {
			tags = append(tags, l)
		}
	}
	return tags
}
