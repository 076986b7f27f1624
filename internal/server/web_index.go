package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// reconcilesShown is how many reconciles the /index page shows.
const reconcilesShown = 50

// reconcilesOf lists the newest reconciles of the store.
func reconcilesOf(ctx context.Context, st Store, limit int) ([]pipeline.Reconcile, error) {
	out, err := st.Reconciles(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("listing reconciles: %w", err)
	}
	return out, nil
}

// reconcileJSON is a reconcile in the API.
type reconcileJSON struct {
	ID       int64                    `json:"id"`
	Time     time.Time                `json:"time"`
	Revision string                   `json:"revision"`
	Added    []string                 `json:"added"`
	Changed  []pipeline.ProjectChange `json:"changed"`
	Removed  []string                 `json:"removed"`
	Errors   []string                 `json:"errors"`
	Applied  bool                     `json:"applied"` // false: the index had errors and changed nothing
}

func toReconcileJSON(r pipeline.Reconcile) reconcileJSON {
	out := reconcileJSON{ID: r.ID, Time: r.Time.UTC(), Revision: r.Revision,
		Added: r.Added, Changed: r.Changed, Removed: r.Removed, Errors: r.Errors, Applied: len(r.Errors) == 0}
	for _, s := range []*[]string{&out.Added, &out.Removed, &out.Errors} {
		if *s == nil {
			*s = []string{}
		}
	}
	if out.Changed == nil {
		out.Changed = []pipeline.ProjectChange{}
	}
	return out
}

// apiListReconciles serves GET /api/v1/index/reconciles?limit=N: the
// reconciles of the tracked index, newest first.
func apiListReconciles(st Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit := reconcilesShown
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				apiFail(log, w, r, badRequest("limit %q: give a whole number, 0 for all", v))
				return
			}
			limit = n
		}
		rs, err := reconcilesOf(r.Context(), st, limit)
		if err != nil {
			apiFail(log, w, r, err)
			return
		}
		out := make([]reconcileJSON, len(rs))
		for i, rc := range rs {
			out[i] = toReconcileJSON(rc)
		}
		writeJSON(w, http.StatusOK, map[string]any{"reconciles": out})
	}
}

// indexData is the /index page's content.
type indexData struct {
	Reconciles []pipeline.Reconcile
	Errors     []string // the newest reconcile's errors: the index is not in force
	ErrorsRev  string
}

// webIndex serves GET /index: the reconciles of the tracked index as diffs,
// newest first, and its current errors.
func (s *Server) webIndex(w http.ResponseWriter, r *http.Request) {
	rs, err := reconcilesOf(r.Context(), s.visibleStore(), reconcilesShown)
	if err != nil {
		s.webFail(w, r, err)
		return
	}
	d := indexData{Reconciles: rs}
	if len(rs) > 0 && len(rs[0].Errors) > 0 && s.newestReconcile(r.Context()) == rs[0].ID {
		d.Errors, d.ErrorsRev = rs[0].Errors, rs[0].Revision
	}
	s.render(w, r, http.StatusOK, "index", "layout", s.newPage(w, r, "Index", "index", d))
}

// newestReconcile is the id of the newest reconcile of the index, whoever
// may read it: the one in force. 0 when there is none or it cannot be read.
func (s *Server) newestReconcile(ctx context.Context) int64 {
	rs, err := reconcilesOf(ctx, s.deps.Store, 1)
	if err != nil || len(rs) == 0 {
		return 0
	}
	return rs[0].ID
}
