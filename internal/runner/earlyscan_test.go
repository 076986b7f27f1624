package runner_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// waitScanner is the scanner seam: it says when it starts, then waits for
// release (or its context) before it reports.
type waitScanner struct {
	started chan time.Time
	release chan struct{}
	ended   chan error // the scan's context's cause when it ended early
}

func (s *waitScanner) Scan(ctx context.Context, spec pipeline.ScanSpec, log io.Writer) (pipeline.ScanReport, error) {
	s.started <- time.Now()
	select {
	case <-s.release:
	case <-ctx.Done():
		s.ended <- context.Cause(ctx)
		return pipeline.ScanReport{}, ctx.Err()
	}
	fmt.Fprintf(log, "scanned %s (%s)\n  os-packages        ok    3 package(s)\n", spec.Image, spec.Digest)
	return pipeline.ScanReport{Image: spec.Image, Digest: spec.Digest, SBOM: []byte(`{"bomFormat":"CycloneDX"}`),
		Results: []pipeline.ScannerResult{{Scanner: "os-packages", Status: pipeline.ScanOK}}}, nil
}

func stageOf(t *testing.T, st *sqlite.Store, id int64, name pipeline.StageName) pipeline.Stage {
	t.Helper()
	stages, err := st.Stages(context.Background(), id)
	must(t, err)
	for _, s := range stages {
		if s.Name == name {
			return s
		}
	}
	return pipeline.Stage{}
}

// TestScanRunsDuringTheTests: the scan starts with the test stage and the
// scan stage, in its turn, writes its output; a failing test discards it
// and the scan stage is skipped as before.
func TestScanRunsDuringTheTests(t *testing.T) {
	ctx := context.Background()
	t.Run("passing tests", func(t *testing.T) {
		tester := newGateTester()
		scanner := &waitScanner{started: make(chan time.Time, 1), release: make(chan struct{}), ended: make(chan error, 1)}
		r, st := laneRunner(t, tester, scanner, 0)
		done := make(chan pipeline.Build, 1)
		go func() {
			b, err := r.Run(ctx, demo, "test", inputs(t, st, demo, 0, nil, false))
			if err != nil {
				b.Status, b.Reason = "", err.Error()
			}
			done <- b
		}()
		<-tester.entered
		var scanStarted time.Time
		select {
		case scanStarted = <-scanner.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the scan did not start while the test stage ran")
		}
		close(scanner.release) // the scan ends before the tests do
		time.Sleep(50 * time.Millisecond)
		close(tester.gate(demo.Key()))
		b := <-done
		if b.Status != pipeline.StatusSucceeded {
			t.Fatalf("build %s %q, want succeeded", b.Status, b.Reason)
		}
		test, scan := stageOf(t, st, b.ID, pipeline.StageTest), stageOf(t, st, b.ID, pipeline.StageScan)
		if !scanStarted.Before(test.Finished) || scan.Status != pipeline.StatusSucceeded || scan.Started.Before(test.Finished) {
			t.Errorf("scanner started %s; test stage %s–%s; scan stage %s %s–%s: want the scanner inside the test stage, the scan stage after it",
				scanStarted, test.Started, test.Finished, scan.Status, scan.Started, scan.Finished)
		}
		scans, err := st.Scans(ctx, demo.Key(), 1)
		must(t, err)
		if len(scans) != 1 || scans[0].BuildID != b.ID || !scans[0].Started.Before(test.Finished) {
			t.Fatalf("stored scans %+v, want one of build %d started before the tests ended (%s)", scans, b.ID, test.Finished)
		}
		log := readLog(t, st, b.ID, pipeline.StageScan)
		for _, want := range []string{"scanned while the tests ran: the scan started with the test stage at ", "  os-packages        ok    3 package(s)\n", "SBOM stored with the build"} {
			if !strings.Contains(log, want) {
				t.Errorf("scan log lacks %q:\n%s", want, log)
			}
		}
	})
	t.Run("failing tests", func(t *testing.T) {
		tester := newGateTester()
		tester.fail = true
		scanner := &waitScanner{started: make(chan time.Time, 1), release: make(chan struct{}), ended: make(chan error, 1)}
		r, st := laneRunner(t, tester, scanner, 0)
		done := make(chan pipeline.Build, 1)
		go func() {
			b, err := r.Run(ctx, demo, "test", inputs(t, st, demo, 0, nil, false))
			if err != nil {
				b.Status, b.Reason = "", err.Error()
			}
			done <- b
		}()
		<-tester.entered
		select {
		case <-scanner.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the scan did not start while the test stage ran")
		}
		close(tester.gate(demo.Key())) // the scan has not finished: it must be cancelled
		var b pipeline.Build
		select {
		case b = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the build did not end: the scan of a failed build was waited for")
		}
		if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageTest {
			t.Fatalf("build %s in %s %q, want failed in test", b.Status, b.FailedStage, b.Reason)
		}
		select {
		case <-scanner.ended:
		default:
			t.Error("the scan of a build whose tests failed was not cancelled")
		}
		for _, name := range []pipeline.StageName{pipeline.StageScan, pipeline.StageDeliver} {
			if s := stageOf(t, st, b.ID, name); s.Status != pipeline.StatusSkipped || s.Error != "an earlier stage failed" {
				t.Errorf("stage %s: %s %q, want skipped: an earlier stage failed", name, s.Status, s.Error)
			}
		}
		if scans, err := st.Scans(ctx, demo.Key(), 1); err != nil || len(scans) != 0 {
			t.Errorf("stored scans %+v (%v), want none for a build whose tests failed", scans, err)
		}
	})
}
