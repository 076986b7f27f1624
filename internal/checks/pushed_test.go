package checks_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/checks"
	"github.com/hoistci/hoist/internal/pipeline"
)

// TestChecksStartBeforeThePushEnds: with TestSpec.Pushed, the test-script
// and starts run the image at once while the push has not ended, and the
// checks that read the registry's copy wait for it; a failed push ends
// them all, the test-script too, and is Test's error.
func TestChecksStartBeforeThePushEnds(t *testing.T) {
	f := setup(t, checks.Options{})
	ref := f.image(t, true, nil, `CMD ["sleep", "600"]`)
	built, err := f.Engine.InspectImage(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	script := "#!/bin/sh\ntouch " + marker + "\nexec sleep 60\n"
	if err := os.WriteFile(filepath.Join(dir, "t.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var readBeforePush bool
	pushed := func(ctx context.Context) (string, error) {
		for {
			if _, err := os.Stat(marker); err == nil {
				return "", errors.New("denied: pushes are refused here (test)")
			}
			select {
			case <-ctx.Done():
				return "", context.Cause(ctx)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	spec := pipeline.TestSpec{Image: ref, Pushed: pushed, Built: built, Dir: dir, HasRepo: true,
		Config: pipeline.RepoConfig{File: "cccp.yml", TestScript: "t.sh"}, Project: pipeline.Project{AppID: "demo", JobID: "app", Tag: "latest"}}
	var log bytes.Buffer
	start := time.Now()
	res, err := f.s.Test(t.Context(), spec, &log)
	took := time.Since(start)
	want := "denied: pushes are refused here (test)"
	if err == nil || err.Error() != want {
		t.Fatalf("Test: %v, want %q\n%s", err, want, log.String())
	}
	if took > 30*time.Second {
		t.Errorf("Test took %s after the push failed, want the test-script (sleep 60) ended at once", took)
	}
	for _, r := range res {
		if r.ID == "config" || r.ID == "size" || r.ID == "secrets" {
			readBeforePush = true
		}
	}
	if readBeforePush {
		t.Errorf("results %+v: a check that reads the registry's copy ran although the push failed", res)
	}
	for _, w := range []string{"the push of " + ref + " failed: the checks stop", "--- test-script t.sh"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "ancestor="+ref).Output()
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers of %s left: %s", ref, out)
	}
}
