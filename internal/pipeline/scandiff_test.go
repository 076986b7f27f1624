package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffScans(t *testing.T) {
	deb := func(name, version string) Package {
		return Package{Type: "deb", Name: name, Version: version, Arch: "amd64"}
	}
	old := ScanReport{Results: []ScannerResult{
		{Scanner: "os-packages", Status: ScanOK, Packages: []Package{deb("libc6", "2.36-9"), deb("curl", "7.88"), deb("gone", "1")}},
		{Scanner: "capabilities", Status: ScanOK, Findings: []Finding{{Severity: "high", ID: "privileged", Message: "runs --privileged", Location: "label RUN"}}},
		{Scanner: "cve", Status: ScanOK},
	}}
	cur := ScanReport{Results: []ScannerResult{
		{Scanner: "os-packages", Status: ScanOK, Packages: []Package{deb("libc6", "2.36-9"), deb("curl", "7.88.1"), deb("new", "2")}},
		{Scanner: "updates", Status: ScanOK, Updates: []PackageUpdate{{Name: "curl", Installed: "7.88.1", Available: "7.88.2"}}},
		{Scanner: "capabilities", Status: ScanOK},
		{Scanner: "cve", Status: ScanError, Detail: "exit status 2"},
	}}
	want := ScanDiff{
		Added:    []Package{deb("new", "2")},
		Removed:  []Package{deb("gone", "1")},
		Changed:  []PackageChange{{Type: "deb", Name: "curl", From: "7.88", To: "7.88.1"}},
		Updates:  []PackageUpdate{{Name: "curl", Installed: "7.88.1", Available: "7.88.2"}},
		Resolved: []Finding{{Severity: "high", ID: "privileged", Message: "runs --privileged", Location: "label RUN"}},
		Scanners: []ScannerChange{{Scanner: "updates", To: ScanOK}, {Scanner: "cve", From: ScanOK, To: ScanError, Detail: "exit status 2"}},
	}
	got := DiffScans(old, cur)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DiffScans (-want +got):\n%s", diff)
	}
	if s := got.Summary(); s != "1 package added, 1 package removed, 1 package changed version, 1 new update available, 1 finding resolved, 2 scanners changed status" {
		t.Errorf("Summary = %q", s)
	}
	if d := DiffScans(cur, cur); !d.Empty() || d.Summary() != "no changes" {
		t.Errorf("a scan against itself: %+v %q", d, d.Summary())
	}
}

func TestPoliciesApply(t *testing.T) {
	results := []CheckResult{
		{ID: "starts", Group: GroupCheck, Status: CheckFail, Blocking: true},
		{ID: "ports", Group: GroupCheck, Status: CheckFail},
		{ID: "size", Group: GroupCheck, Status: CheckFail},
		{ID: "lint/JSONArgsRecommended", Group: GroupLint, Status: CheckWarn},
		{ID: "lint/MaintainerDeprecated", Group: GroupLint, Status: CheckWarn},
		{ID: "structure-test/a.cst.yaml/echo", Group: GroupStructureTest, Status: CheckFail, Blocking: true},
	}
	p := Policies{
		"starts": PolicyAdvisory, "ports": PolicyBlocking, "size": PolicyExclude,
		"lint": PolicyBlocking, "lint/MaintainerDeprecated": PolicyAdvisory,
		"structure-test": PolicyAdvisory,
	}
	got := p.Apply(results)
	want := []CheckResult{
		{ID: "starts", Group: GroupCheck, Status: CheckWarn},
		{ID: "ports", Group: GroupCheck, Status: CheckFail, Blocking: true},
		{ID: "lint/JSONArgsRecommended", Group: GroupLint, Status: CheckFail, Blocking: true},
		{ID: "lint/MaintainerDeprecated", Group: GroupLint, Status: CheckWarn},
		{ID: "structure-test/a.cst.yaml/echo", Group: GroupStructureTest, Status: CheckWarn},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	if !got[1].Failed() || got[0].Failed() {
		t.Error("Failed: a blocking failure fails, a warning does not")
	}
}
