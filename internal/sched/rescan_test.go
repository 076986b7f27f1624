package sched

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// failingRescanner records re-scans and fails the projects in fail: the
// seam where a re-scan's failure is injected.
type failingRescanner struct {
	mu      sync.Mutex
	scanned []string
	fail    map[string]bool
}

func (f *failingRescanner) Rescan(_ context.Context, project, cause string, _ io.Writer) (pipeline.Scan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scanned = append(f.scanned, project+" "+cause)
	if f.fail[project] {
		return pipeline.Scan{}, errors.New("registry unreachable")
	}
	return pipeline.Scan{Project: project}, nil
}

func TestRescansAll(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	for i, img := range []pipeline.DeliveredImage{
		{Image: "r/ns/a:latest", Project: "ns/a:latest", Digest: "sha256:a1"},
		{Image: "r/ns/b:1", Project: "ns/b:1", Digest: "sha256:b1"},
		{Image: "r/ns/c:latest", Project: "ns/c:latest", Digest: "sha256:c1"},
	} {
		img.Delivered = now.Add(time.Duration(i) * time.Second)
		if err := st.RecordImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewRescans(st, nil, "every week", nil); err == nil || !strings.Contains(err.Error(), "--rescan") {
		t.Errorf("an invalid schedule: %v", err)
	}
	f := &failingRescanner{fail: map[string]bool{"ns/b:1": true}}
	r, err := NewRescans(st, f, "@weekly", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.All(ctx, "schedule weekly")
	if n != 2 || err == nil || !strings.Contains(err.Error(), "ns/b:1: registry unreachable") {
		t.Errorf("All: %d scanned, err %v; want 2 and ns/b's error", n, err)
	}
	slices.Sort(f.scanned)
	want := []string{"ns/a:latest schedule weekly", "ns/b:1 schedule weekly", "ns/c:latest schedule weekly"}
	if !slices.Equal(f.scanned, want) {
		t.Errorf("re-scanned %q, want every project once, the failing one not stopping the others: %q", f.scanned, want)
	}
}
