// Package metrics exports Hoist's Prometheus metrics: builds by result,
// stage durations, and the length and age of the build queue, read from the
// store when scraped. Its collectors live on a private registry, served by
// Handler; it hears about builds as a runner observer (StageFinished) and a
// dispatcher observer (BuildFinished).
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hoistci/hoist/internal/pipeline"
)

// ActiveLister lists the queued and running builds; pipeline.QueueStore
// has it.
type ActiveLister interface {
	Active(ctx context.Context) ([]pipeline.Build, error)
}

// Metrics holds Hoist's collectors. It is safe for concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	builds *prometheus.CounterVec
	stages *prometheus.HistogramVec
	log    *slog.Logger
}

// StageBuckets are the bounds, in seconds, of the stage duration histogram:
// from a cached checkout to a long build.
var StageBuckets = []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// New returns Metrics whose queue gauges are read from queue at each
// scrape. A nil logger discards.
func New(queue ActiveLister, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: log,
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_builds_total",
			Help: "Builds that ended, by result: succeeded, failed, cancelled or skipped.",
		}, []string{"result"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hoist_stage_duration_seconds",
			Help:    "How long pipeline stages ran, by stage; skipped stages are not counted.",
			Buckets: StageBuckets,
		}, []string{"stage"}),
	}
	for _, s := range []pipeline.Status{pipeline.StatusSucceeded, pipeline.StatusFailed, pipeline.StatusCancelled, pipeline.StatusSkipped} {
		m.builds.WithLabelValues(string(s))
	}
	m.reg.MustRegister(m.builds, m.stages, &queueCollector{queue: queue},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format. A failing
// store read leaves out the queue gauges and keeps the rest.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelError),
	})
}

// BuildFinished counts a build that ended.
func (m *Metrics) BuildFinished(b pipeline.Build) {
	if b.Status.Done() {
		m.builds.WithLabelValues(string(b.Status)).Inc()
	}
}

// StageFinished observes how long a stage ran, unless it was skipped.
func (m *Metrics) StageFinished(_ pipeline.Build, s pipeline.Stage) {
	if s.Status == pipeline.StatusSkipped || s.Started.IsZero() || s.Finished.IsZero() {
		return
	}
	m.stages.WithLabelValues(string(s.Name)).Observe(s.Duration().Seconds())
}

// StageStarted does nothing; it makes Metrics a runner observer.
func (m *Metrics) StageStarted(pipeline.Build, pipeline.StageName) {}

// Output does nothing; it makes Metrics a runner observer.
func (m *Metrics) Output(pipeline.Build, pipeline.StageName, []byte) {}

// queueCollector reads the queue from the store at each scrape, so that
// every server sharing a database reports the same queue.
type queueCollector struct {
	queue ActiveLister
}

var (
	queueLength = prometheus.NewDesc("hoist_queue_length",
		"Builds waiting (queued) and running now.", []string{"status"}, nil)
	queueAge = prometheus.NewDesc("hoist_queue_oldest_age_seconds",
		"How long the oldest queued build has waited; 0 when none waits.", nil, nil)
)

// scrapeTimeout bounds the store read of one scrape.
const scrapeTimeout = 5 * time.Second

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueLength
	ch <- queueAge
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	active, err := c.queue.Active(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueLength, err)
		return
	}
	var queued, running int
	var oldest time.Time
	for _, b := range active {
		switch b.Status {
		case pipeline.StatusRunning:
			running++
		case pipeline.StatusQueued:
			queued++
			if oldest.IsZero() || b.Created.Before(oldest) {
				oldest = b.Created
			}
		}
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(time.Since(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(queueLength, prometheus.GaugeValue, float64(queued), string(pipeline.StatusQueued))
	ch <- prometheus.MustNewConstMetric(queueLength, prometheus.GaugeValue, float64(running), string(pipeline.StatusRunning))
	ch <- prometheus.MustNewConstMetric(queueAge, prometheus.GaugeValue, age)
}
