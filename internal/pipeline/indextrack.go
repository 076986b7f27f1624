package pipeline

import (
	"context"
	"errors"
	"time"
)

// ErrDisabled is returned when building a project that is disabled because
// its entry left the index.
var ErrDisabled = errors.New("project is disabled: its entry is no longer in the index")

// IndexSnapshot is one reading of a tracked index.
type IndexSnapshot struct {
	Revision string    // the index's commit, or its folder's newest modification time
	Projects []Project // the entries, when Errors is empty
	Errors   []string  // validation errors ("index.d/a.yaml:3:5: …"); any: the index is not applied
}

// IndexReader reads the tracked index: a folder or a git repository.
type IndexReader interface {
	// ReadIndex fetches the index when it is remote and reads it. err is
	// for failing to read at all (an unreachable repository); an index that
	// does not validate is a snapshot with Errors.
	ReadIndex(ctx context.Context) (IndexSnapshot, error)
}

// IndexLoader reads and validates index files. The index adapter
// implements it.
type IndexLoader interface {
	// LoadIndex reads the index at paths (folders, index.yml files or
	// project files). errs are the validation errors, each with
	// file:line:col; err is for paths that cannot be read.
	LoadIndex(paths ...string) (projects []Project, errs []string, err error)
}

// FieldChange is one field of a project that an index change altered.
type FieldChange struct {
	Field string `json:"field"` // the index's name for it: "git-branch"
	Old   string `json:"old"`
	New   string `json:"new"`
}

// ProjectChange is a project whose index entry changed.
type ProjectChange struct {
	Key    string        `json:"key"`
	Fields []FieldChange `json:"fields"`
}

// Reconcile is the record of one reconcile of the index with the projects.
type Reconcile struct {
	ID       int64
	Time     time.Time
	Revision string
	Added    []string // keys of new or re-enabled projects
	Changed  []ProjectChange
	Removed  []string // keys of projects disabled
	Errors   []string // the index did not validate: nothing was changed
}

// Empty reports whether the reconcile changed nothing and found no errors.
func (r Reconcile) Empty() bool {
	return len(r.Added) == 0 && len(r.Changed) == 0 && len(r.Removed) == 0 && len(r.Errors) == 0
}

// ReconcileStore keeps the record of reconciles.
type ReconcileStore interface {
	// RecordReconcile stores r, setting r.ID.
	RecordReconcile(ctx context.Context, r *Reconcile) error
	// Reconciles lists reconciles, newest first, at most limit (0: all).
	Reconciles(ctx context.Context, limit int) ([]Reconcile, error)
}
