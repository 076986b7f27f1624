package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// failureRow is a project whose newest build failed.
type failureRow struct {
	Key   string
	Build pipeline.Build
	Error string // the first line of the reason
}

// webFailures serves /failures: every project whose newest build failed,
// newest failure first, with the stage and the first line of the error.
func (s *Server) webFailures(w http.ResponseWriter, r *http.Request) {
	last, err := s.visibleStore().LastBuilds(r.Context())
	if err != nil {
		s.webFail(w, r, fmt.Errorf("listing last builds: %w", err))
		return
	}
	var rows []failureRow
	for key, b := range last {
		if b.Status != pipeline.StatusFailed {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimSpace(b.Reason), "\n")
		rows = append(rows, failureRow{Key: key, Build: b, Error: first})
	}
	slices.SortFunc(rows, func(a, b failureRow) int {
		if c := b.Build.Finished.Compare(a.Build.Finished); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	s.render(w, r, http.StatusOK, "failures", "layout", s.newPage(w, r, "Failures", "failures", rows))
}

// queueData is the queue page.
type queueData struct {
	Running []pipeline.Build
	Queued  []pipeline.Build
	Notice  string           // what the last action did ("Cancelled build #3 of …")
	Waits   map[int64]string // why each queued build waits, by ID
}

// webQueue serves /queue: running and queued builds, oldest first, each
// with a cancel button.
func (s *Server) webQueue(w http.ResponseWriter, r *http.Request) {
	active, err := s.visibleStore().Active(r.Context())
	if err != nil {
		s.webFail(w, r, fmt.Errorf("listing the queue: %w", err))
		return
	}
	var d queueData
	if n, of := r.FormValue("cancelled"), r.FormValue("of"); n != "" && of != "" {
		d.Notice = fmt.Sprintf("Build #%s of %s: cancel requested; a running build stops within seconds.", n, of)
	}
	if d.Waits, err = s.waitReasons(r.Context(), active); err != nil {
		s.webFail(w, r, err)
		return
	}
	for _, b := range active {
		if b.Status == pipeline.StatusRunning {
			d.Running = append(d.Running, b)
		} else {
			d.Queued = append(d.Queued, b)
		}
	}
	if r.Header.Get("HX-Request") != "" && r.FormValue("fragment") == "list" {
		s.render(w, r, http.StatusOK, "queue", "queue-list", s.newPage(w, r, "", "", d))
		return
	}
	s.render(w, r, http.StatusOK, "queue", "layout", s.newPage(w, r, "Queue", "queue", d))
}
