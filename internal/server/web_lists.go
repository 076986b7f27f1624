package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// failureRow is a project whose newest build failed.
type failureRow struct {
	Key   string
	Build pipeline.Build
	Error string // the first line of the reason
}

// failuresShown is how many failures a page of /failures lists.
const failuresShown = 50

// failuresData is the failures page: a page of failures, and the cursor
// of the next one.
type failuresData struct {
	Rows   []failureRow
	First  bool   // the page starts at the newest failure
	Before string // the page's own ?before=, "" for the first
	Older  string // ?before= of the next page; "" when this is the last
}

// webFailures serves /failures: every project whose newest build failed,
// newest failure first, with the stage and the first line of the error,
// a page at a time: ?before= is the cursor an "older" link gives (the
// finish time and key of the row the page starts after).
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
	slices.SortFunc(rows, compareFailures)
	d := failuresData{First: true}
	if at, key, ok := parseFailureCursor(r.FormValue("before")); ok {
		d.First, d.Before = false, r.FormValue("before")
		i, _ := slices.BinarySearchFunc(rows, failureRow{Key: key, Build: pipeline.Build{Finished: at}}, compareFailures)
		for i < len(rows) && compareFailures(rows[i], failureRow{Key: key, Build: pipeline.Build{Finished: at}}) <= 0 {
			i++
		}
		rows = rows[i:]
	}
	if len(rows) > failuresShown {
		rows = rows[:failuresShown]
		d.Older = failureCursor(rows[len(rows)-1])
	}
	d.Rows = rows
	s.render(w, r, http.StatusOK, "failures", "layout", s.newPage(w, r, "Failures", "failures", d))
}

// compareFailures orders failures newest first, then by key.
func compareFailures(a, b failureRow) int {
	if c := b.Build.Finished.Compare(a.Build.Finished); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

// failureCursor is the ?before= that starts a page after row.
func failureCursor(row failureRow) string {
	return strconv.FormatInt(row.Build.Finished.UnixNano(), 10) + "_" + row.Key
}

// parseFailureCursor reads a failureCursor; ok false for none or a bad one
// (the page then starts at the newest).
func parseFailureCursor(c string) (time.Time, string, bool) {
	ns, key, ok := strings.Cut(c, "_")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || key == "" {
		return time.Time{}, "", false
	}
	return time.Unix(0, n).UTC(), key, true
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
