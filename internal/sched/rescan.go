package sched

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Rescanner scans the image delivered for a project again, without
// rebuilding it; runner.Runner.Rescan is one.
type Rescanner interface {
	Rescan(ctx context.Context, project, cause string, log io.Writer) (pipeline.Scan, error)
}

// Rescans re-scans every delivered image on a cron schedule, so that a
// new CVE or a new package update shows up without a rebuild.
type Rescans struct {
	images  pipeline.ImageStore
	scanner Rescanner
	spec    string
	log     *slog.Logger
}

// NewRescans returns Rescans on spec (a 5-field cron spec or a descriptor
// such as @weekly); an invalid spec is an error.
func NewRescans(images pipeline.ImageStore, scanner Rescanner, spec string, log *slog.Logger) (*Rescans, error) {
	spec = strings.TrimSpace(spec)
	if err := ParseSchedule(spec); err != nil {
		return nil, fmt.Errorf("--rescan: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rescans{images: images, scanner: scanner, spec: spec, log: log}, nil
}

// Run re-scans on the schedule until ctx ends.
func (r *Rescans) Run(ctx context.Context) {
	c := cron.New()
	if _, err := c.AddFunc(r.spec, func() {
		n, err := r.All(ctx, pipeline.ScheduleCause(r.spec))
		if err != nil {
			r.log.Error("scheduled re-scan", "err", err)
		}
		r.log.Info("scheduled re-scan done", "images", n)
	}); err != nil {
		r.log.Error("scheduling re-scans", "spec", r.spec, "err", err)
		return
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}

// All re-scans the newest delivered image of every project once, one at
// a time, and returns how many it scanned. One failing scan is logged
// and does not stop the others; the error joins them all.
func (r *Rescans) All(ctx context.Context, cause string) (int, error) {
	images, err := r.images.Images(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading delivered images: %w", err)
	}
	seen := map[string]bool{}
	var errs []error
	n := 0
	for _, img := range images {
		if seen[img.Project] || ctx.Err() != nil {
			continue
		}
		seen[img.Project] = true
		s, err := r.scanner.Rescan(ctx, img.Project, cause, io.Discard)
		if err != nil {
			r.log.Warn("re-scan failed", "project", img.Project, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", img.Project, err))
			continue
		}
		n++
		r.log.Info("re-scanned", "project", img.Project, "image", s.Image, "digest", s.Digest)
	}
	return n, errors.Join(errs...)
}
