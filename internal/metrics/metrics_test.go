package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/metrics"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d\n%s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoist.db"))
	must(t, err)
	defer st.Close()
	for _, name := range []string{"one", "two"} {
		must(t, st.PutProject(ctx, pipeline.Project{AppID: "a", JobID: name, Tag: "latest"}))
	}
	m := metrics.New(st, nil)
	out := scrape(t, m)
	for _, want := range []string{
		`hoist_queue_length{status="queued"} 0`, `hoist_queue_length{status="running"} 0`,
		"hoist_queue_oldest_age_seconds 0", `hoist_builds_total{result="succeeded"} 0`,
		"go_goroutines ", "process_cpu_seconds_total ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("empty queue: no %q in\n%s", want, out)
		}
	}

	// One build running, one waiting for 90 s.
	_, _, err = st.Enqueue(ctx, "a/one:latest", "test", time.Now().Add(-2*time.Minute))
	must(t, err)
	_, err = st.Claim(ctx, time.Now())
	must(t, err)
	_, _, err = st.Enqueue(ctx, "a/two:latest", "test", time.Now().Add(-90*time.Second))
	must(t, err)
	m.BuildFinished(pipeline.Build{Status: pipeline.StatusSucceeded})
	m.BuildFinished(pipeline.Build{Status: pipeline.StatusFailed})
	m.BuildFinished(pipeline.Build{Status: pipeline.StatusSucceeded})
	t0 := time.Now()
	m.StageFinished(pipeline.Build{}, pipeline.Stage{Name: pipeline.StageBuild, Status: pipeline.StatusSucceeded, Started: t0, Finished: t0.Add(3 * time.Second)})
	m.StageFinished(pipeline.Build{}, pipeline.Stage{Name: pipeline.StagePrebuild, Status: pipeline.StatusSkipped, Started: t0, Finished: t0})

	out = scrape(t, m)
	for _, want := range []string{
		`hoist_queue_length{status="queued"} 1`, `hoist_queue_length{status="running"} 1`,
		`hoist_builds_total{result="succeeded"} 2`, `hoist_builds_total{result="failed"} 1`,
		`hoist_stage_duration_seconds_bucket{stage="build",le="2.5"} 0`,
		`hoist_stage_duration_seconds_bucket{stage="build",le="5"} 1`,
		`hoist_stage_duration_seconds_sum{stage="build"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, `stage="prebuild"`) {
		t.Errorf("a skipped stage was observed:\n%s", out)
	}
	age := regexp.MustCompile(`(?m)^hoist_queue_oldest_age_seconds (\S+)$`).FindStringSubmatch(out)
	if age == nil {
		t.Fatalf("no queue age in\n%s", out)
	}
	if v, _ := strconv.ParseFloat(age[1], 64); v < 90 || v > 150 {
		t.Errorf("oldest queued build waited %s s, want about 90", age[1])
	}

	// A store that fails leaves out the queue, not the rest.
	st.Close()
	out = scrape(t, m)
	if strings.Contains(out, "hoist_queue_length") || !strings.Contains(out, `hoist_builds_total{result="succeeded"} 2`) {
		t.Errorf("with a closed store:\n%s", out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
