package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// storeRescanner is the Rescanner seam over the real store: it "scans"
// the project's delivered image by storing report as a new scan, as the
// real re-scanner stores what the scanners find.
type storeRescanner struct {
	store  *sqlite.Store
	mu     sync.Mutex
	report pipeline.ScanReport // what the next scan finds
	calls  []string
}

func (rs *storeRescanner) Rescan(ctx context.Context, project, cause string) (pipeline.Scan, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.calls = append(rs.calls, project+" "+cause)
	images, err := rs.store.Images(ctx)
	if err != nil {
		return pipeline.Scan{}, err
	}
	for _, img := range images {
		if img.Project != project {
			continue
		}
		now := time.Now()
		sc := pipeline.Scan{Project: project, Image: img.Image, Digest: img.Digest, Cause: cause,
			Started: now, Finished: now, Report: rs.report}
		if err := rs.store.PutScan(ctx, &sc); err != nil {
			return pipeline.Scan{}, err
		}
		return sc, nil
	}
	return pipeline.Scan{}, fmt.Errorf("%s: %w", project, pipeline.ErrNotFound)
}

func (rs *storeRescanner) setReport(r pipeline.ScanReport) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.report = r
}

// checksEnv is a webEnv with results to show: examples/checked, whose
// build #1 passed its checks and was delivered and scanned, and whose
// build #2 failed in the test stage on a blocking check; and
// examples/bare, delivered and never scanned.
type checksEnv struct {
	*webEnv
	ok, failed     pipeline.Build
	scan1, scan2   pipeline.Scan // scan1 in build #1, scan2 a weekly re-scan
	junit, sbom    []byte
	key, bare      string
	hostileDetail  string
	hostilePackage string
}

const checkedKey = "examples/checked:latest"

func newChecksEnv(t *testing.T, opts Options) *checksEnv {
	t.Helper()
	e := &checksEnv{webEnv: newWebEnv(t, opts), key: checkedKey, bare: "examples/bare:latest",
		hostileDetail: "<script>alert('detail')</script> in /etc/shadow:1", hostilePackage: "<script>alert('pkg')</script>"}
	ctx := context.Background()
	e.putProject(testProject("examples", "checked"))
	e.putProject(testProject("examples", "bare"))

	e.ok = e.testBuild(pipeline.StatusSucceeded)
	webMust(t, e.store.PutCheckResults(ctx, e.ok.ID, []pipeline.CheckResult{
		{ID: "starts", Group: pipeline.GroupCheck, Description: "the container starts", Status: pipeline.CheckPass, Blocking: true},
	}))
	e.failed = e.testBuild(pipeline.StatusFailed)
	webMust(t, e.store.PutCheckResults(ctx, e.failed.ID, []pipeline.CheckResult{
		{ID: "starts", Group: pipeline.GroupCheck, Description: "the container starts and exits 0 or stays up", Status: pipeline.CheckPass, Blocking: true, Duration: 3 * time.Second},
		{ID: "config", Group: pipeline.GroupCheck, Description: "the image has a CMD, a USER and labels", Status: pipeline.CheckWarn, Detail: "runs as root: no USER", Location: "Dockerfile:1:1"},
		{ID: "no-hard-coded-passwords", Group: pipeline.GroupCheck, Description: "no empty or hard-coded root password", Status: pipeline.CheckFail, Blocking: true,
			Detail: e.hostileDetail, Location: "/etc/shadow:1"},
		{ID: "lint/JSONArgsRecommended", Group: pipeline.GroupLint, Description: "JSON arguments recommended", Status: pipeline.CheckWarn,
			Detail: "JSON arguments recommended for CMD", Location: "Dockerfile:3:1"},
		{ID: "structure-test/tests/a.cst.yaml/echo works", Group: pipeline.GroupStructureTest, Status: pipeline.CheckNA, Detail: "unsupported field: containerRunOptions",
			Location: "tests/a.cst.yaml:4:3"},
	}))
	e.junit = []byte(`<?xml version="1.0"?><testsuites><testsuite name="check" tests="5" failures="1"></testsuite></testsuites>`)
	e.sbom = []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}`)
	webMust(t, e.store.PutArtifact(ctx, pipeline.Artifact{BuildID: e.failed.ID, Name: "junit.xml", ContentType: "application/xml", Data: e.junit, Created: time.Now()}))
	webMust(t, e.store.PutArtifact(ctx, pipeline.Artifact{BuildID: e.failed.ID, Name: "sbom.cdx.json", ContentType: sbomType, Data: e.sbom, Created: time.Now()}))

	webMust(t, e.store.RecordImage(ctx, pipeline.DeliveredImage{Image: "127.0.0.1:5000/examples/checked:latest", Project: e.key,
		Digest: "sha256:" + strings.Repeat("cd", 32), BuildID: e.ok.ID, Delivered: time.Now()}))
	webMust(t, e.store.RecordImage(ctx, pipeline.DeliveredImage{Image: "127.0.0.1:5000/examples/bare:latest", Project: e.bare,
		Digest: "sha256:" + strings.Repeat("ef", 32), Delivered: time.Now()}))

	e.scan1 = e.putScan(e.ok.ID, "build #1", time.Now().Add(-8*24*time.Hour), pipeline.ScanReport{
		Results: []pipeline.ScannerResult{
			{Scanner: "os-packages", Status: pipeline.ScanOK, Packages: []pipeline.Package{
				{Type: "apk", Name: "musl", Version: "1.2.4-r1", Location: "/lib/apk/db/installed"},
				{Type: "apk", Name: "busybox", Version: "1.36.1-r5", Location: "/lib/apk/db/installed"},
			}},
			{Scanner: "cve", Status: pipeline.ScanOK, Raw: []byte(`{"matches":[]}`)},
		},
		SBOM: e.sbom,
	})
	e.scan2 = e.putScan(0, "schedule weekly", time.Now().Add(-time.Hour), pipeline.ScanReport{
		Results: []pipeline.ScannerResult{
			{Scanner: "os-packages", Status: pipeline.ScanOK, Packages: []pipeline.Package{
				{Type: "apk", Name: "musl", Version: "1.2.5-r0", Location: "/lib/apk/db/installed"},
				{Type: "apk", Name: "busybox", Version: "1.36.1-r5", Location: "/lib/apk/db/installed"},
				{Type: "pypi", Name: e.hostilePackage, Version: "6.6.6", Location: "/usr/lib/python3/site-packages"},
			}, Updates: []pipeline.PackageUpdate{{Name: "musl", Installed: "1.2.5-r0", Available: "1.2.5-r1"}}},
			{Scanner: "capabilities", Status: pipeline.ScanOK, Findings: []pipeline.Finding{
				{Severity: "high", ID: "privileged", Message: "the RUN label asks for --privileged", Location: "label RUN"}}},
			{Scanner: "cve", Status: pipeline.ScanError, Detail: "grype: exit status 2: <b>database</b> not found"},
		},
	})
	return e
}

// testBuild stores a finished build of examples/checked that succeeded,
// or failed in the test stage on its checks.
func (e *checksEnv) testBuild(status pipeline.Status) pipeline.Build {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now()
	b := pipeline.Build{Project: e.key, Status: status, Cause: "index", Commit: strings.Repeat("d", 40),
		Created: now.Add(-2 * time.Minute), Started: now.Add(-2 * time.Minute), Finished: now.Add(-time.Minute)}
	if status == pipeline.StatusFailed {
		b.FailedStage, b.Reason = pipeline.StageTest, "1 blocking check failed: no-hard-coded-passwords"
	}
	webMust(e.t, e.store.CreateBuild(ctx, &b))
	st := pipeline.StatusSucceeded
	for _, name := range pipeline.Stages {
		s := pipeline.Stage{BuildID: b.ID, Name: name, Status: st, Started: b.Started, Finished: b.Finished}
		if name == pipeline.StageTest && status == pipeline.StatusFailed {
			s.Status, s.Error = pipeline.StatusFailed, b.Reason
			st = pipeline.StatusSkipped
		}
		webMust(e.t, e.store.PutStage(ctx, s))
	}
	return b
}

func (e *checksEnv) putScan(buildID int64, cause string, at time.Time, r pipeline.ScanReport) pipeline.Scan {
	e.t.Helper()
	r.Image, r.Digest = "127.0.0.1:5000/examples/checked:latest", "sha256:"+strings.Repeat("cd", 32)
	sc := pipeline.Scan{Project: e.key, Image: r.Image, Digest: r.Digest, BuildID: buildID, Cause: cause,
		Started: at, Finished: at.Add(time.Second), Report: r}
	webMust(e.t, e.store.PutScan(context.Background(), &sc))
	return sc
}

// noHostile fails when body holds one of the hostile strings unescaped.
func noHostile(t *testing.T, what, body string) {
	t.Helper()
	for _, bad := range []string{"<script>alert", "<b>database</b>"} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: %q is not escaped", what, bad)
		}
	}
}

func TestAPIBuildChecks(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	var build struct {
		ID     int64       `json:"id"`
		Checks []checkJSON `json:"checks"`
		Counts checkCounts `json:"check_counts"`
	}
	e.json("GET", fmt.Sprintf("/api/v1/builds/%d", e.failed.ID), "", anon, 200, &build)
	if len(build.Checks) != 5 || build.Checks[2].ID != "no-hard-coded-passwords" || build.Checks[2].Status != pipeline.CheckFail ||
		!build.Checks[2].Blocking || build.Checks[2].Detail != e.hostileDetail || build.Checks[2].Location != "/etc/shadow:1" {
		t.Errorf("build checks = %+v", build.Checks)
	}
	if want := (checkCounts{Total: 5, Pass: 1, Fail: 1, Warn: 2, NA: 1, BlockingFailures: 1}); build.Counts != want {
		t.Errorf("check_counts = %+v, want %+v", build.Counts, want)
	}
	var checks struct {
		BuildID int64       `json:"build_id"`
		Checks  []checkJSON `json:"checks"`
		Counts  checkCounts `json:"counts"`
	}
	e.json("GET", fmt.Sprintf("/api/v1/builds/%d/checks", e.failed.ID), "", anon, 200, &checks)
	if checks.BuildID != e.failed.ID || len(checks.Checks) != 5 || checks.Checks[0].ID != "starts" || checks.Checks[0].Seconds != 3 ||
		checks.Counts.BlockingFailures != 1 {
		t.Errorf("checks = %+v", checks)
	}
	// A build without results has an empty list, not null.
	_, body := e.do("GET", fmt.Sprintf("/api/v1/builds/%d/checks", e.running.ID), "", anon)
	if !strings.Contains(string(body), `"checks": []`) {
		t.Errorf("checks of a build without results: %s", body)
	}
	for _, path := range []string{"/api/v1/builds/999/checks", "/api/v1/builds/x/checks", "/api/v1/builds/0/checks"} {
		if eb := e.apiErr("GET", path, "", anon, 404); eb.Error.Code != "not_found" {
			t.Errorf("GET %s: %+v", path, eb)
		}
	}
}

func TestAPIArtifacts(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	var list struct {
		Artifacts []artifactJSON `json:"artifacts"`
	}
	e.json("GET", fmt.Sprintf("/api/v1/builds/%d/artifacts", e.failed.ID), "", anon, 200, &list)
	if len(list.Artifacts) != 2 || list.Artifacts[0].Name != "junit.xml" || list.Artifacts[0].ContentType != "application/xml" ||
		list.Artifacts[0].Created == nil || list.Artifacts[1].Name != "sbom.cdx.json" || list.Artifacts[1].ContentType != sbomType {
		t.Fatalf("artifacts = %+v", list.Artifacts)
	}
	for i, want := range [][]byte{e.junit, e.sbom} {
		a := list.Artifacts[i]
		resp := e.send("GET", a.URL, "", anon)
		body := readAll(t, resp)
		if resp.StatusCode != 200 || body != string(want) || resp.Header.Get("Content-Type") != a.ContentType {
			t.Errorf("GET %s = %d %s %q", a.URL, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: served without a sandbox: %v", a.URL, resp.Header)
		}
	}
	if eb := e.apiErr("GET", fmt.Sprintf("/api/v1/builds/%d/artifacts/nope.xml", e.failed.ID), "", anon, 404); !strings.Contains(eb.Error.Message, `no artifact "nope.xml"`) {
		t.Errorf("missing artifact: %+v", eb)
	}
	e.apiErr("GET", "/api/v1/builds/999/artifacts", "", anon, 404)
	e.apiErr("GET", "/api/v1/builds/999/artifacts/junit.xml", "", anon, 404)
	// The build without artifacts lists none.
	_, body := e.do("GET", fmt.Sprintf("/api/v1/builds/%d/artifacts", e.ok.ID), "", anon)
	if !strings.Contains(string(body), `"artifacts": []`) {
		t.Errorf("artifacts of a build without: %s", body)
	}
}

func TestArtifactType(t *testing.T) {
	for _, tt := range []struct{ name, ct, want string }{
		{"junit.xml", "", "application/xml"},
		{"junit.xml", "text/xml", "application/xml"},
		{"junit.xml", "application/xml", "application/xml"},
		{"sbom.cdx.json", "", sbomType},
		{"sbom.cdx.json", sbomType, sbomType},
		{"report.json", "", "application/json"},
		{"blob", "", "application/octet-stream"},
		{"page.html", "text/plain", "text/plain"},
	} {
		if got := artifactType(pipeline.Artifact{Name: tt.name, ContentType: tt.ct}); got != tt.want {
			t.Errorf("artifactType(%s, %q) = %q, want %q", tt.name, tt.ct, got, tt.want)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func TestAPIScans(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	var list struct {
		Project string      `json:"project"`
		Scans   []*scanJSON `json:"scans"`
	}
	e.json("GET", "/api/v1/projects/examples/checked/scans", "", anon, 200, &list)
	if list.Project != e.key || len(list.Scans) != 2 || list.Scans[0].ID != e.scan2.ID || list.Scans[1].ID != e.scan1.ID {
		t.Fatalf("scans = %+v", list)
	}
	newest, oldest := list.Scans[0], list.Scans[1]
	want := pipeline.DiffScans(e.scan1.Report, e.scan2.Report).Summary()
	if newest.Diff == nil || newest.Diff.Previous != e.scan1.ID || newest.Diff.Summary != want || oldest.Diff != nil {
		t.Errorf("diffs = %+v / %+v, want summary %q", newest.Diff, oldest.Diff, want)
	}
	if d := newest.Diff; len(d.Added) != 1 || d.Added[0].Name != e.hostilePackage || len(d.Changed) != 1 ||
		d.Changed[0] != (packageChangeJSON{Type: "apk", Name: "musl", From: "1.2.4-r1", To: "1.2.5-r0"}) ||
		len(d.Findings) != 1 || len(d.Scanners) != 2 {
		t.Errorf("diff = %+v", d)
	}
	if sc := newest.Scanners; len(sc) != 3 || sc[0].PackageCounts["apk"] != 2 || sc[0].PackageCounts["pypi"] != 1 ||
		sc[0].Packages != nil || sc[2].Status != pipeline.ScanError || sc[2].Detail == "" {
		t.Errorf("listed scanners = %+v", sc)
	}
	if oldest.BuildID != e.ok.ID || newest.BuildID != 0 || newest.Cause != "schedule weekly" {
		t.Errorf("scans: %+v %+v", newest, oldest)
	}
	e.json("GET", "/api/v1/projects/examples/checked/scans?limit=1", "", anon, 200, &list)
	if len(list.Scans) != 1 || list.Scans[0].Diff == nil || list.Scans[0].Diff.Summary != want {
		t.Errorf("limit=1: %+v", list.Scans)
	}
	e.apiErr("GET", "/api/v1/projects/examples/checked/scans?limit=-1", "", anon, 400)
	e.apiErr("GET", "/api/v1/projects/nope/nothing/scans", "", anon, 404)
	e.json("GET", "/api/v1/projects/examples/bare/scans", "", anon, 200, &list)
	if len(list.Scans) != 0 {
		t.Errorf("bare has scans: %+v", list.Scans)
	}

	// One scan, whole.
	var one, two scanJSON
	e.json("GET", fmt.Sprintf("/api/v1/scans/%d", e.scan1.ID), "", anon, 200, &one)
	var raw bytes.Buffer
	if len(one.Scanners) == 2 {
		webMust(t, json.Compact(&raw, one.Scanners[1].Raw))
	}
	if len(one.Scanners) != 2 || len(one.Scanners[0].Packages) != 2 || one.Scanners[0].Packages[0].Name != "musl" ||
		raw.String() != `{"matches":[]}` || one.SBOM != fmt.Sprintf("/api/v1/scans/%d/sbom", e.scan1.ID) || one.Diff != nil ||
		one.BuildID != e.ok.ID {
		t.Errorf("scan 1 = %+v", one)
	}
	e.json("GET", fmt.Sprintf("/api/v1/scans/%d", e.scan2.ID), "", anon, 200, &two)
	if two.Diff == nil || two.Diff.Summary != want || two.SBOM != "" || len(two.Scanners[0].Packages) != 3 || two.BuildID != 0 {
		t.Errorf("scan 2 = %+v", two)
	}
	// Its SBOM.
	resp := e.send("GET", fmt.Sprintf("/api/v1/scans/%d/sbom", e.scan1.ID), "", anon)
	if body := readAll(t, resp); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != sbomType || body != string(e.sbom) {
		t.Errorf("sbom = %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if eb := e.apiErr("GET", fmt.Sprintf("/api/v1/scans/%d/sbom", e.scan2.ID), "", anon, 404); !strings.Contains(eb.Error.Message, "has no SBOM") {
		t.Errorf("scan without SBOM: %+v", eb)
	}
	for _, path := range []string{"/api/v1/scans/999", "/api/v1/scans/x", "/api/v1/scans/999/sbom"} {
		e.apiErr("GET", path, "", anon, 404)
	}
}

func TestAPIReadsOfResultsNeedAReaderWhenPrivate(t *testing.T) {
	e := newChecksEnv(t, Options{})
	paths := []string{
		fmt.Sprintf("/api/v1/builds/%d/checks", e.failed.ID),
		fmt.Sprintf("/api/v1/builds/%d/artifacts", e.failed.ID),
		fmt.Sprintf("/api/v1/builds/%d/artifacts/junit.xml", e.failed.ID),
		"/api/v1/projects/examples/checked/scans",
		fmt.Sprintf("/api/v1/scans/%d", e.scan1.ID),
		fmt.Sprintf("/api/v1/scans/%d/sbom", e.scan1.ID),
	}
	for _, path := range paths {
		e.apiErr("GET", path, "", anon, 401)
		if status, body := e.do("GET", path, "", byToken); status != 200 {
			t.Errorf("GET %s by token = %d %s", path, status, body)
		}
	}
}

func TestAPIRescan(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	e.scanner.setReport(e.scan2.Report)
	path := "/api/v1/projects/examples/checked/scan"
	e.apiErr("POST", path, "", anon, 401)
	e.apiErr("POST", path, "", byCookie, 403)
	if len(e.scanner.calls) != 0 {
		t.Fatalf("refused re-scans ran: %v", e.scanner.calls)
	}
	var out struct {
		Scan *scanJSON `json:"scan"`
	}
	resp := e.send("POST", path, "", byToken)
	body := readAll(t, resp)
	if resp.StatusCode != 201 {
		t.Fatalf("POST %s = %d %s", path, resp.StatusCode, body)
	}
	webMust(t, json.Unmarshal([]byte(body), &out))
	if out.Scan == nil || out.Scan.ID <= e.scan2.ID || out.Scan.Cause != "manual by alice" || out.Scan.Diff == nil ||
		out.Scan.Diff.Previous != e.scan2.ID || out.Scan.Diff.Summary != "no changes" || resp.Header.Get("Location") != out.Scan.URL {
		t.Errorf("rescan = %s", body)
	}
	scans, err := e.store.Scans(context.Background(), e.key, 0)
	webMust(t, err)
	if len(scans) != 3 || scans[0].ID != out.Scan.ID {
		t.Errorf("stored scans: %d", len(scans))
	}
	// With the cookie and its CSRF token, too.
	if status, body := e.do("POST", path, "", byCookieCSRF); status != 201 {
		t.Errorf("POST by cookie with CSRF = %d %s", status, body)
	}
	// Nothing delivered; no such project.
	e.putProject(testProject("examples", "undelivered"))
	if eb := e.apiErr("POST", "/api/v1/projects/examples/undelivered/scan", "", byToken, 404); !strings.Contains(eb.Error.Message, "nothing delivered to scan") {
		t.Errorf("undelivered: %+v", eb)
	}
	e.apiErr("POST", "/api/v1/projects/nope/nothing/scan", "", byToken, 404)

	// A server without a re-scanner says so.
	e.server.deps.Rescanner = nil
	if eb := e.apiErr("POST", path, "", byToken, 501); eb.Error.Code != "not_implemented" || !strings.Contains(eb.Error.Message, "cannot re-scan") {
		t.Errorf("without a re-scanner: %+v", eb)
	}
}

func TestWebBuildShowsChecks(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	page := fmt.Sprintf("/p/examples/checked/builds/%d", e.failed.Number)
	status, body := e.get(page, anon)
	if status != 200 {
		t.Fatalf("GET %s = %d\n%s", page, status, body)
	}
	noHostile(t, page, body)
	escaped := "&lt;script&gt;alert(&#39;detail&#39;)&lt;/script&gt; in /etc/shadow:1"
	for _, want := range []string{
		"Failed in", "1 blocking check failed",
		`<span class="check-id mono">no-hard-coded-passwords</span>`, escaped, "blocking-fail",
		`<span class="check-loc mono">/etc/shadow:1</span>`,
		"Predefined checks", "Dockerfile lint", "Structure tests", "unsupported field: containerRunOptions",
		"runs as root: no USER", "advisory", "n/a",
		`href="/p/examples/checked/builds/2/artifacts/junit.xml"`, `href="/p/examples/checked/builds/2/artifacts/sbom.cdx.json"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET %s: no %q", page, want)
		}
	}
	// The failing check and its reason are at the top, in the failure
	// summary, before the timeline; and first in the checks section.
	summary := between(body, `class="summary failed"`, `<ol class="timeline">`)
	if !strings.Contains(summary, "no-hard-coded-passwords") || !strings.Contains(summary, escaped) || strings.Contains(summary, "runs as root") {
		t.Errorf("failure summary:\n%s", summary)
	}
	checks := between(body, `<section class="checks"`, `</section>`)
	if i, j := strings.Index(checks, "no-hard-coded-passwords"), strings.Index(checks, ">starts<"); i < 0 || j < 0 || i > j {
		t.Errorf("the blocking failure is not first:\n%s", checks)
	}
	// The JUnit report is next to the test stage's log.
	if testLog := between(body, `id="stage-test"`, "</details>"); !strings.Contains(testLog, `href="/p/examples/checked/builds/2/artifacts/junit.xml"`) {
		t.Errorf("no JUnit link by the test log:\n%s", testLog)
	}
	// The live fragment shows it too.
	if _, live := e.get(page+"/live", anon); !strings.Contains(live, escaped) {
		t.Errorf("live fragment without the failing check:\n%s", live)
	}
	// A finished build's results are not fetched again.
	if strings.Contains(body, "hoist-stage") {
		t.Errorf("a finished build's results listen for stages")
	}

	// Build #1 ran the scan: its scanners and packages.
	status, body = e.get("/p/examples/checked/builds/1", anon)
	if status != 200 {
		t.Fatalf("build 1 = %d", status)
	}
	for _, want := range []string{`<span class="scanner-name">os-packages</span>`, `<span class="mono">apk</span> 2`, "2 packages",
		"musl", "1.2.4-r1", `<span class="scanner-name">cve</span>`, "{&#34;matches&#34;:[]}", fmt.Sprintf("/api/v1/scans/%d/sbom", e.scan1.ID)} {
		if !strings.Contains(body, want) {
			t.Errorf("build 1: no %q", want)
		}
	}
}

// between is the part of s from the first from to the next to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

func TestWebScanErrorIsShown(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	// The weekly re-scan's report, as if build #2 had run it.
	e.putScan(e.failed.ID, "build #2", time.Now(), e.scan2.Report)
	page := fmt.Sprintf("/p/examples/checked/builds/%d", e.failed.Number)
	_, body := e.get(page, anon)
	noHostile(t, page, body)
	for _, want := range []string{"This scanner failed:", "grype: exit status 2: &lt;b&gt;database&lt;/b&gt; not found",
		"&lt;script&gt;alert(&#39;pkg&#39;)&lt;/script&gt;", "privileged", "the RUN label asks for --privileged",
		"1 update available", "1.2.5-r1", `<span class="mono">pypi</span> 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET %s: no %q", page, want)
		}
	}
}

func TestWebResultsFragment(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	// A running build's results ask to be fetched again as stages end.
	_, body := e.get("/p/demo/slow/builds/1", anon)
	frag := `hx-get="/p/demo/slow/builds/1/results" hx-trigger="hoist-stage from:body"`
	if !strings.Contains(body, frag) || !strings.Contains(body, "No check results yet") {
		t.Errorf("running build page: no %q", frag)
	}
	ctx := context.Background()
	webMust(t, e.store.PutCheckResults(ctx, e.running.ID, []pipeline.CheckResult{
		{ID: "secrets", Group: pipeline.GroupCheck, Status: pipeline.CheckFail, Blocking: true, Detail: "a private key in layer 2: /root/.ssh/id_rsa"}}))
	status, body := e.get("/p/demo/slow/builds/1/results", anon)
	if status != 200 || !strings.Contains(body, `id="build-results"`) || !strings.Contains(body, "/root/.ssh/id_rsa") ||
		!strings.Contains(body, frag) || strings.Contains(body, "<html") {
		t.Errorf("results fragment = %d\n%s", status, body)
	}
	if status, _ := e.get("/p/demo/slow/builds/9/results", anon); status != 404 {
		t.Errorf("results of no build = %d", status)
	}
}

func TestWebArtifactDownload(t *testing.T) {
	e := newChecksEnv(t, Options{})
	path := fmt.Sprintf("/p/examples/checked/builds/%d/artifacts/junit.xml", e.failed.Number)
	resp := e.send("GET", path, "", byCookie)
	if body := readAll(t, resp); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/xml" || body != string(e.junit) {
		t.Errorf("GET %s = %d %s %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if status, body := e.get(fmt.Sprintf("/p/examples/checked/builds/%d/artifacts/missing.xml", e.failed.Number), byCookie); status != 404 || !strings.Contains(body, "missing.xml") {
		t.Errorf("missing artifact = %d", status)
	}
	// Private reading: anonymous readers are sent to sign in.
	resp = e.send("GET", path, "", anon)
	readAll(t, resp)
	if resp.Request.URL.Path != "/login" {
		t.Errorf("anonymous download ended at %s", resp.Request.URL)
	}
}

func TestWebProjectScan(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	status, body := e.get("/p/examples/checked", byCookie)
	if status != 200 {
		t.Fatalf("project page = %d", status)
	}
	noHostile(t, "project page", body)
	summary := pipeline.DiffScans(e.scan1.Report, e.scan2.Report).Summary()
	scan := between(body, `<section class="scan" id="scan">`, "</section>")
	for _, want := range []string{"Changes since the previous scan", summary, "schedule weekly", "build #1",
		`<span class="diff-old mono">1.2.4-r1</span> → <span class="diff-new mono">1.2.5-r0</span>`,
		"&lt;script&gt;alert(&#39;pkg&#39;)&lt;/script&gt;", "new finding", "Scan history",
		"This scanner failed:", `action="/p/examples/checked/scan"`, `name="csrf" value="`, "Scan now",
		fmt.Sprintf(`href="/api/v1/scans/%d"`, e.scan1.ID), `href="/p/examples/checked/builds/1"`} {
		if !strings.Contains(scan, want) {
			t.Errorf("project scan: no %q in\n%s", want, scan)
		}
	}
	if _, anonBody := e.get("/p/examples/checked", anon); !strings.Contains(anonBody, "Sign in to scan") || strings.Contains(anonBody, `action="/p/examples/checked/scan"`) {
		t.Errorf("an anonymous reader can scan")
	}
	if _, bare := e.get("/p/examples/bare", anon); !strings.Contains(bare, "Not scanned yet") {
		t.Errorf("bare project page without 'Not scanned yet'")
	}
	// Without a re-scanner there is no button.
	e.server.deps.Rescanner = nil
	if _, b := e.get("/p/examples/checked", byCookie); strings.Contains(b, "Scan now") {
		t.Errorf("Scan now without a re-scanner")
	}
}

func TestWebRescan(t *testing.T) {
	e := newChecksEnv(t, Options{PublicRead: true})
	count := func() int {
		scans, err := e.store.Scans(context.Background(), e.key, 0)
		webMust(t, err)
		return len(scans)
	}
	if resp, _ := e.post("/p/examples/checked/scan", url.Values{}, byCookie, false); resp.StatusCode != 403 || count() != 2 {
		t.Errorf("without CSRF = %d, %d scans", resp.StatusCode, count())
	}
	if resp, _ := e.post("/p/examples/checked/scan", url.Values{}, anon, false); resp.StatusCode != 401 || count() != 2 {
		t.Errorf("anonymous = %d, %d scans", resp.StatusCode, count())
	}
	e.scanner.setReport(e.scan2.Report)
	resp, body := e.post("/p/examples/checked/scan", url.Values{}, byCookie, true)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/p/examples/checked#scan" || count() != 3 {
		t.Fatalf("scan now = %d %s, %d scans\n%s", resp.StatusCode, resp.Header.Get("Location"), count(), body)
	}
	if _, page := e.get("/p/examples/checked", anon); !strings.Contains(page, "manual by alice") || !strings.Contains(page, "no changes") {
		t.Errorf("the project page does not show the new scan")
	}
	if resp, body := e.post("/p/nope/nothing/scan", url.Values{}, byCookie, true); resp.StatusCode != 404 {
		t.Errorf("no such project = %d %s", resp.StatusCode, body)
	}
	e.putProject(testProject("examples", "undelivered"))
	if resp, body := e.post("/p/examples/undelivered/scan", url.Values{}, byCookie, true); resp.StatusCode != 404 || !strings.Contains(body, "nothing delivered to scan") {
		t.Errorf("undelivered = %d\n%s", resp.StatusCode, body)
	}
}
