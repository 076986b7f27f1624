package server

import (
	"context"
	"path"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// visibleStore is the store as the request of each call's context may
// read it: its lists leave out the projects, builds, images and index
// changes of namespaces the request may not read (see readers.go). Lookups
// of one thing are guarded by the routes instead.
type visibleStore struct {
	Store
	s *Server
}

// visibleStore returns s's store as the requests may read it.
func (s *Server) visibleStore() Store { return visibleStore{Store: s.deps.Store, s: s} }

// Projects lists the projects the request may read.
func (v visibleStore) Projects(ctx context.Context) ([]pipeline.Project, error) {
	ps, err := v.Store.Projects(ctx)
	return visible(v.s, ctx, ps, pipeline.Project.Key), err
}

// LastBuilds returns the newest build of each project the request may read.
func (v visibleStore) LastBuilds(ctx context.Context) (map[string]pipeline.Build, error) {
	last, err := v.Store.LastBuilds(ctx)
	if err != nil || v.s.seesAll(ctx) {
		return last, err
	}
	for key := range last {
		if !v.s.sees(ctx, key) {
			delete(last, key)
		}
	}
	return last, nil
}

// Images lists the deliveries of the projects the request may read.
func (v visibleStore) Images(ctx context.Context) ([]pipeline.DeliveredImage, error) {
	images, err := v.Store.Images(ctx)
	return visible(v.s, ctx, images, func(img pipeline.DeliveredImage) string { return img.Project }), err
}

// Active lists the queued and running builds of the projects the request
// may read.
func (v visibleStore) Active(ctx context.Context) ([]pipeline.Build, error) {
	builds, err := v.Store.Active(ctx)
	return visible(v.s, ctx, builds, func(b pipeline.Build) string { return b.Project }), err
}

// Reconciles lists the reconciles of the index as the request may read
// them: the changes to projects it may read, and the errors of index files
// named after a namespace it may read (index.d/<app-id>.yaml); a reconcile
// left with nothing is left out. The limit counts reconciles before that.
func (v visibleStore) Reconciles(ctx context.Context, limit int) ([]pipeline.Reconcile, error) {
	rs, err := v.Store.Reconciles(ctx, limit)
	if err != nil || v.s.seesAll(ctx) {
		return rs, err
	}
	out := rs[:0:0]
	for _, r := range rs {
		seen := func(key string) bool { return v.s.sees(ctx, key) }
		r.Added = filter(r.Added, seen)
		r.Removed = filter(r.Removed, seen)
		r.Changed = filter(r.Changed, func(c pipeline.ProjectChange) bool { return seen(c.Key) })
		r.Errors = filter(r.Errors, func(e string) bool {
			ns, ok := indexFileNamespace(e)
			return ok && v.s.seesNS(ctx, ns)
		})
		if !r.Empty() {
			out = append(out, r)
		}
	}
	return out, nil
}

// filter keeps the elements of list keep says yes to.
func filter[T any](list []T, keep func(T) bool) []T {
	var out []T
	for _, x := range list {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// indexFileNamespace is the namespace of the index file an index error
// starts with ("index.d/ns.yaml:3:1: …" is about ns), if it names one.
func indexFileNamespace(msg string) (string, bool) {
	file, _, ok := strings.Cut(msg, ":")
	if !ok {
		return "", false
	}
	base := path.Base(file)
	for _, ext := range []string{".yaml", ".yml"} {
		if ns, ok := strings.CutSuffix(base, ext); ok && ns != "" {
			return ns, true
		}
	}
	return "", false
}
