package runner

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestJUnit(t *testing.T) {
	results := []pipeline.CheckResult{
		{ID: "lint/JSONArgsRecommended", Group: pipeline.GroupLint, Status: pipeline.CheckWarn, Detail: "JSON arguments recommended", Location: "Dockerfile:4:1"},
		{ID: "starts", Group: pipeline.GroupCheck, Status: pipeline.CheckPass, Blocking: true, Detail: "exited 0", Duration: 1500 * time.Millisecond},
		{ID: "secrets", Group: pipeline.GroupCheck, Status: pipeline.CheckFail, Blocking: true, Detail: "a private key <in> /root/.ssh/id_rsa\nlayer 2"},
		{ID: "ports", Group: pipeline.GroupCheck, Status: pipeline.CheckNA, Detail: "no EXPOSE"},
		{ID: "size", Group: pipeline.GroupCheck, Status: pipeline.CheckWarn, Detail: "1200 MB, over the 1000 MB budget"},
	}
	data, err := junit("ns/app:latest", 7, results)
	if err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(data, &got); err != nil {
		t.Fatalf("the report is not XML: %v\n%s", err, data)
	}
	if got.Tests != 5 || got.Failures != 1 || got.Skipped != 1 || len(got.Suites) != 2 {
		t.Fatalf("tests %d failures %d skipped %d suites %d, want 5 1 1 2\n%s", got.Tests, got.Failures, got.Skipped, len(got.Suites), data)
	}
	lint, checks := got.Suites[0], got.Suites[1]
	if lint.Name != "lint" || lint.Cases[0].File != "Dockerfile:4:1" || lint.Cases[0].Failure != nil {
		t.Errorf("lint suite: %+v", lint)
	}
	if !strings.Contains(lint.Cases[0].SystemOut.Text, "WARN (advisory): JSON arguments recommended") {
		t.Errorf("an advisory warning is not in system-out: %+v", lint.Cases[0].SystemOut)
	}
	if checks.Failures != 1 || checks.Cases[1].Failure == nil || checks.Cases[1].Failure.Message != "a private key <in> /root/.ssh/id_rsa" {
		t.Errorf("the blocking failure: %+v", checks.Cases[1])
	}
	if checks.Cases[0].Time != "1.500" || checks.Time != "1.500" {
		t.Errorf("times: case %s suite %s, want 1.500", checks.Cases[0].Time, checks.Time)
	}
	if checks.Cases[2].Skipped == nil || checks.Cases[2].Skipped.Message != "no EXPOSE" {
		t.Errorf("n/a is not skipped with its reason: %+v", checks.Cases[2])
	}
	if !strings.HasPrefix(string(data), "<?xml") {
		t.Error("no XML header")
	}
}
