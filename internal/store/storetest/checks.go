package storetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checksTests are the cases of the test stage's stores: check results,
// artifacts and scans. Run runs them with the others.
//
// Besides the interfaces' contracts, the suite holds backends to these:
//   - PutCheckResults and PutArtifact of a missing build wrap
//     pipeline.ErrNotFound (PutCheckResults also with no results);
//     CheckResults and Artifacts of a missing build are empty;
//   - Scans lists reports without their SBOM (it can be megabytes), newest
//     stored first; ScanOf returns it;
//   - deleting a project keeps its builds' results, artifacts and scans.
var checksTests = []struct {
	name string
	f    func(t *testing.T, s pipeline.Store)
}{
	{"Check/RoundTripOrder", testCheckRoundTrip},
	{"Check/Replace", testCheckReplace},
	{"Check/MissingBuild", testCheckMissingBuild},
	{"Artifact/PutReplaceList", testArtifacts},
	{"Artifact/NotFound", testArtifactNotFound},
	{"Artifact/Large", testArtifactLarge},
	{"Scan/RoundTrip", testScanRoundTrip},
	{"Scan/ListNewestFirst", testScanList},
	{"Scan/NotFound", testScanNotFound},
	{"Project/DeleteKeepsResults", testDeleteKeepsResults},
}

// checkResults are results with every field set, in no sorted order.
func checkResults() []pipeline.CheckResult {
	return []pipeline.CheckResult{
		{ID: "starts", Group: pipeline.GroupCheck, Description: "the container starts",
			Status: pipeline.CheckPass, Blocking: true, Duration: 3*time.Second + 17*time.Nanosecond},
		{ID: "lint/JSONArgsRecommended", Group: pipeline.GroupLint, Description: "JSON arguments recommended",
			Status: pipeline.CheckWarn, Detail: "CMD uses the shell form\nuse [\"a\", \"b\"]",
			Location: "Dockerfile:3:1", Duration: time.Millisecond},
		{ID: "secrets", Group: pipeline.GroupCheck, Description: "no secrets in any layer",
			Status: pipeline.CheckFail, Detail: "private key /root/.ssh/id_rsa in layer 2, deleted in layer 3",
			Blocking: true, Duration: 1},
		{ID: "structure-test/tests/a.cst.yaml/echo works", Group: pipeline.GroupStructureTest,
			Status: pipeline.CheckNA, Detail: "no shell", Location: "tests/a.cst.yaml:12:5",
			Output: "stdout: héllo\x00\nstderr: ✗ <&>\n"},
		{ID: "autotest", Group: pipeline.GroupAutotest, Status: pipeline.CheckPass},
	}
}

func testCheckRoundTrip(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	want := checkResults()
	must(t, "PutCheckResults", s.PutCheckResults(ctx(t), b.ID, want))
	got, err := s.CheckResults(ctx(t), b.ID)
	must(t, "CheckResults", err)
	if d := diff(want, got); d != "" {
		t.Errorf("check results (-stored +read):\n%s", d)
	}
	other := create(t, s, "a/x:latest")
	if got, err := s.CheckResults(ctx(t), other.ID); err != nil || len(got) != 0 {
		t.Errorf("CheckResults of a build with none = %v, %v; want none, nil", got, err)
	}
}

func testCheckReplace(t *testing.T, s pipeline.Store) {
	b1, b2 := create(t, s, "a/x:latest"), create(t, s, "a/x:latest")
	all := checkResults()
	must(t, "PutCheckResults", s.PutCheckResults(ctx(t), b1.ID, all))
	must(t, "PutCheckResults", s.PutCheckResults(ctx(t), b2.ID, all[:1]))

	fewer := []pipeline.CheckResult{all[3], all[0]}
	fewer[1].Status, fewer[1].Detail = pipeline.CheckFail, "exited 1"
	must(t, "PutCheckResults replacing", s.PutCheckResults(ctx(t), b1.ID, fewer))
	got, err := s.CheckResults(ctx(t), b1.ID)
	must(t, "CheckResults", err)
	if d := diff(fewer, got); d != "" {
		t.Errorf("results after replacing 5 with 2 (-want +got):\n%s", d)
	}
	got, err = s.CheckResults(ctx(t), b2.ID)
	must(t, "CheckResults", err)
	if d := diff(all[:1], got); d != "" {
		t.Errorf("the other build's results changed (-want +got):\n%s", d)
	}

	must(t, "PutCheckResults of none", s.PutCheckResults(ctx(t), b1.ID, nil))
	if got, err := s.CheckResults(ctx(t), b1.ID); err != nil || len(got) != 0 {
		t.Errorf("CheckResults after replacing with none = %v, %v; want none", got, err)
	}
}

func testCheckMissingBuild(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	mustNotFound(t, "PutCheckResults to a missing build",
		s.PutCheckResults(ctx(t), b.ID+1000, checkResults()))
	mustNotFound(t, "PutCheckResults of none to a missing build",
		s.PutCheckResults(ctx(t), b.ID+1000, nil))
	if got, err := s.CheckResults(ctx(t), b.ID+1000); err != nil || len(got) != 0 {
		t.Errorf("CheckResults of a missing build = %v, %v; want none, nil", got, err)
	}
}

func testArtifacts(t *testing.T, s pipeline.Store) {
	b1, b2 := create(t, s, "a/x:latest"), create(t, s, "a/x:latest")
	junit := pipeline.Artifact{BuildID: b1.ID, Name: "junit.xml", ContentType: "application/xml",
		Data: []byte("<testsuites/>\n"), Created: at(5, 123)}
	sbom := pipeline.Artifact{BuildID: b1.ID, Name: "sbom.cdx.json", ContentType: "application/vnd.cyclonedx+json",
		Data: []byte(`{"bomFormat":"CycloneDX"}`), Created: at(6, 0)}
	empty := pipeline.Artifact{BuildID: b1.ID, Name: "a-empty.txt", ContentType: "text/plain", Created: at(7, 0)}
	binary := pipeline.Artifact{BuildID: b2.ID, Name: "junit.xml", ContentType: "application/octet-stream",
		Data: []byte{0, 1, 2, 0xff, 0}}
	for _, a := range []pipeline.Artifact{sbom, junit, empty, binary} {
		must(t, "PutArtifact "+a.Name, s.PutArtifact(ctx(t), a))
	}
	for _, want := range []pipeline.Artifact{junit, sbom, empty, binary} {
		got, err := s.Artifact(ctx(t), want.BuildID, want.Name)
		must(t, "Artifact "+want.Name, err)
		mustUTC(t, "Artifact "+want.Name, got.Created)
		if d := diff(want, got); d != "" {
			t.Errorf("artifact %s of build %d (-stored +read):\n%s", want.Name, want.BuildID, d)
		}
	}

	junit2 := junit
	junit2.ContentType, junit2.Data, junit2.Created = "text/xml", []byte("<testsuites tests=\"2\"/>"), at(9, 9)
	must(t, "PutArtifact replacing", s.PutArtifact(ctx(t), junit2))
	got, err := s.Artifact(ctx(t), b1.ID, "junit.xml")
	must(t, "Artifact", err)
	if d := diff(junit2, got); d != "" {
		t.Errorf("replaced artifact (-want +got):\n%s", d)
	}
	if got, _ := s.Artifact(ctx(t), b2.ID, "junit.xml"); !bytes.Equal(got.Data, binary.Data) {
		t.Errorf("replacing build %d's junit.xml changed build %d's to %q", b1.ID, b2.ID, got.Data)
	}

	list, err := s.Artifacts(ctx(t), b1.ID)
	must(t, "Artifacts", err)
	var want []pipeline.Artifact
	for _, a := range []pipeline.Artifact{empty, junit2, sbom} { // by name
		a.Data = nil
		want = append(want, a)
	}
	if d := diff(want, list); d != "" {
		t.Errorf("Artifacts (-want +got):\n%s", d)
	}
	for _, a := range list {
		if a.Data != nil {
			t.Errorf("Artifacts returned the data of %s (%d bytes), want nil", a.Name, len(a.Data))
		}
		mustUTC(t, "Artifacts "+a.Name, a.Created)
	}
	if list, err := s.Artifacts(ctx(t), b2.ID+1000); err != nil || len(list) != 0 {
		t.Errorf("Artifacts of a missing build = %v, %v; want none, nil", list, err)
	}
}

func testArtifactNotFound(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	must(t, "PutArtifact", s.PutArtifact(ctx(t), pipeline.Artifact{BuildID: b.ID, Name: "junit.xml", Data: []byte("x")}))
	_, err := s.Artifact(ctx(t), b.ID, "sbom.cdx.json")
	mustNotFound(t, "Artifact of another name", err)
	_, err = s.Artifact(ctx(t), b.ID+1000, "junit.xml")
	mustNotFound(t, "Artifact of a missing build", err)
	err = s.PutArtifact(ctx(t), pipeline.Artifact{BuildID: b.ID + 1000, Name: "junit.xml", Data: []byte("x")})
	mustNotFound(t, "PutArtifact to a missing build", err)
}

// randomBytes returns n reproducible random bytes.
func randomBytes(n int, seed byte) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(p)
	return p
}

func testArtifactLarge(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	data := randomBytes(8<<20, 'a')
	must(t, "PutArtifact of 8 MB", s.PutArtifact(ctx(t), pipeline.Artifact{BuildID: b.ID, Name: "big.bin", Data: data}))
	got, err := s.Artifact(ctx(t), b.ID, "big.bin")
	must(t, "Artifact", err)
	if !bytes.Equal(got.Data, data) {
		t.Errorf("read %d bytes back, want the 8 MB stored", len(got.Data))
	}
}

// scan is a scan of image for project with a full report and an SBOM of
// sbomSize bytes.
func scan(project, image string, buildID int64, sbomSize int) pipeline.Scan {
	digest := "sha256:" + fmt.Sprintf("%064x", len(image)+sbomSize)
	return pipeline.Scan{
		Project: project, Image: image, Digest: digest, BuildID: buildID,
		Cause: fmt.Sprintf("build #%d", buildID), Started: at(10, 1), Finished: at(12, 999),
		Report: pipeline.ScanReport{
			Image: image, Digest: digest,
			Results: []pipeline.ScannerResult{
				{Scanner: "os-packages", Status: pipeline.ScanOK, Packages: []pipeline.Package{
					{Type: "deb", Name: "libc6", Version: "2.36-9", Arch: "amd64", Origin: "glibc",
						Licenses: []string{"LGPL-2.1", "GPL-2.0"}, PURL: "pkg:deb/debian/libc6@2.36-9?arch=amd64",
						Location: "/var/lib/dpkg/status"},
					{Type: "apk", Name: "musl", Version: "1.2.4-r2", Location: "/lib/apk/db/installed"},
				}},
				{Scanner: "updates", Status: pipeline.ScanOK, Updates: []pipeline.PackageUpdate{
					{Name: "libc6", Installed: "2.36-9", Available: "2.36-9+deb12u4"}}},
				{Scanner: "capabilities", Status: pipeline.ScanOK, Findings: []pipeline.Finding{
					{Severity: "high", ID: "privileged", Message: "RUN label asks for --privileged", Location: "label RUN"}}},
				{Scanner: "cve", Status: pipeline.ScanError, Detail: "exit status 2: no database",
					Raw: []byte(`{"matches":[],"note":"\u00e9"}`)},
				{Scanner: "language-packages", Status: pipeline.ScanNA, Detail: "no pip, npm or gem packages"},
			},
			SBOM: randomBytes(sbomSize, byte(buildID)),
		},
	}
}

func testScanRoundTrip(t *testing.T, s pipeline.Store) {
	b := create(t, s, "a/x:latest")
	want := scan("a/x:latest", "reg.example/a/x:latest", b.ID, 3<<20)
	stored := want
	must(t, "PutScan", s.PutScan(ctx(t), &stored))
	if stored.ID == 0 {
		t.Fatalf("PutScan left ID 0")
	}
	want.ID = stored.ID
	if !bytes.Equal(stored.Report.SBOM, want.Report.SBOM) {
		t.Errorf("PutScan changed the caller's SBOM")
	}
	got, err := s.ScanOf(ctx(t), stored.ID)
	must(t, "ScanOf", err)
	mustUTC(t, "ScanOf", got.Started, got.Finished)
	if !bytes.Equal(got.Report.SBOM, want.Report.SBOM) {
		t.Errorf("ScanOf: SBOM of %d bytes, want the %d stored", len(got.Report.SBOM), len(want.Report.SBOM))
	}
	got.Report.SBOM, want.Report.SBOM = nil, nil // cmp is slow on megabytes
	if d := diff(want, got); d != "" {
		t.Errorf("ScanOf (-stored +read):\n%s", d)
	}

	rescan := scan("a/x:latest", "reg.example/a/x:latest", 0, 0)
	rescan.Cause, rescan.Finished = "hoist scan", time.Time{}
	must(t, "PutScan", s.PutScan(ctx(t), &rescan))
	if rescan.ID == stored.ID {
		t.Errorf("two scans got the same ID %d", rescan.ID)
	}
	// The build's scan is found by its build, SBOM included; a re-scan
	// (build 0) belongs to no build.
	byBuild, err := s.ScanOfBuild(ctx(t), b.ID)
	must(t, "ScanOfBuild", err)
	if byBuild.ID != stored.ID || len(byBuild.Report.SBOM) != 3<<20 {
		t.Errorf("ScanOfBuild(%d) = scan %d with a %d-byte SBOM, want scan %d with its SBOM", b.ID, byBuild.ID, len(byBuild.Report.SBOM), stored.ID)
	}
	_, err = s.ScanOfBuild(ctx(t), 0)
	mustNotFound(t, "ScanOfBuild of a re-scan's build 0", err)
	_, err = s.ScanOfBuild(ctx(t), b.ID+1000)
	mustNotFound(t, "ScanOfBuild of a build with no scan", err)

	got, err = s.ScanOf(ctx(t), rescan.ID)
	must(t, "ScanOf", err)
	if d := diff(rescan, got); d != "" {
		t.Errorf("ScanOf of a re-scan with no SBOM (-stored +read):\n%s", d)
	}
	if !got.Finished.IsZero() {
		t.Errorf("zero Finished read back as %v", got.Finished)
	}
}

func testScanList(t *testing.T, s pipeline.Store) {
	var want []pipeline.Scan // of a/x, in the order stored
	for i, p := range []string{"a/x:latest", "b/y:1", "a/x:latest", "a/x:latest", "b/y:1"} {
		sc := scan(p, "reg.example/"+p, int64(i+1), 1000+i)
		sc.Started = at(int64(100-i), 0) // newest is by storing order, not Started
		must(t, "PutScan", s.PutScan(ctx(t), &sc))
		if p == "a/x:latest" {
			sc.Report.SBOM = nil
			want = append(want, sc)
		}
	}
	newest := []pipeline.Scan{want[2], want[1], want[0]}
	for _, limit := range []int{0, 1, 2, 3, 10} {
		got, err := s.Scans(ctx(t), "a/x:latest", limit)
		must(t, "Scans", err)
		w := newest
		if limit > 0 && limit < len(w) {
			w = w[:limit]
		}
		if d := diff(w, got); d != "" {
			t.Errorf("Scans limit %d (-want +got):\n%s", limit, d)
		}
		for _, sc := range got {
			if sc.Report.SBOM != nil {
				t.Errorf("Scans returned the SBOM of scan %d (%d bytes), want nil", sc.ID, len(sc.Report.SBOM))
			}
		}
	}
	if got, err := s.Scans(ctx(t), "c/none:latest", 0); err != nil || len(got) != 0 {
		t.Errorf("Scans of a project with none = %v, %v; want none, nil", got, err)
	}
}

func testScanNotFound(t *testing.T, s pipeline.Store) {
	sc := scan("a/x:latest", "reg.example/a/x:latest", 0, 10)
	must(t, "PutScan", s.PutScan(ctx(t), &sc))
	_, err := s.ScanOf(ctx(t), sc.ID+1000)
	mustNotFound(t, "ScanOf a missing id", err)
}

// testDeleteKeepsResults deletes a project whose build has results,
// artifacts and scans, then brings it back: the old rows stay readable and
// do not get in the way of the new project's.
func testDeleteKeepsResults(t *testing.T, s pipeline.Store) {
	p := project("a", "gone")
	must(t, "PutProject", s.PutProject(ctx(t), p))
	b := create(t, s, p.Key())
	results := checkResults()
	must(t, "PutCheckResults", s.PutCheckResults(ctx(t), b.ID, results))
	art := pipeline.Artifact{BuildID: b.ID, Name: "junit.xml", Data: []byte("<x/>")}
	must(t, "PutArtifact", s.PutArtifact(ctx(t), art))
	sc := scan(p.Key(), "reg/a/gone:latest", b.ID, 100)
	must(t, "PutScan", s.PutScan(ctx(t), &sc))

	must(t, "DeleteProject", s.DeleteProject(ctx(t), p.Key()))
	if got, err := s.CheckResults(ctx(t), b.ID); err != nil || len(got) != len(results) {
		t.Errorf("check results after DeleteProject: %d, %v; want %d", len(got), err, len(results))
	}
	if _, err := s.Artifact(ctx(t), b.ID, "junit.xml"); err != nil {
		t.Errorf("artifact after DeleteProject: %v", err)
	}
	if _, err := s.ScanOf(ctx(t), sc.ID); err != nil {
		t.Errorf("scan after DeleteProject: %v", err)
	}

	must(t, "PutProject again", s.PutProject(ctx(t), p))
	b2 := create(t, s, p.Key())
	must(t, "PutCheckResults of the new build", s.PutCheckResults(ctx(t), b2.ID, results[:1]))
	must(t, "PutArtifact of the new build", s.PutArtifact(ctx(t), pipeline.Artifact{BuildID: b2.ID, Name: "junit.xml"}))
	sc2 := scan(p.Key(), "reg/a/gone:latest", b2.ID, 0)
	must(t, "PutScan of the new build", s.PutScan(ctx(t), &sc2))
	list, err := s.Scans(ctx(t), p.Key(), 0)
	must(t, "Scans", err)
	if len(list) != 2 || list[0].ID != sc2.ID || list[1].ID != sc.ID {
		t.Errorf("Scans after the project came back: %d scans, want the new one then the old one", len(list))
	}
	if got, _ := s.CheckResults(ctx(t), b.ID); len(got) != len(results) {
		t.Errorf("the old build's results: %d, want %d", len(got), len(results))
	}
}
