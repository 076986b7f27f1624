package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Lists are read a page at a time with keyset pagination: a page is asked
// for by the key it starts after (a cursor: a build number, a project key),
// never by an offset, so that each page costs the same however long the
// history is, and things added between two pages neither repeat nor push
// others out of the next one. An answer with more to come names the next
// page's cursor: in the JSON ("next") and in a Link header (rel="next"),
// and in the UI as an "older" link.

// nextURL is r's URL with the query parameter name set to cursor: the
// next page of the same list.
func nextURL(r *http.Request, name, cursor string) string {
	q := r.URL.Query()
	q.Set(name, cursor)
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return u.RequestURI()
}

// setNext says in w's headers that the next page of r's list starts at
// cursor, given as the query parameter name (RFC 8288 Link, rel="next").
func setNext(w http.ResponseWriter, r *http.Request, name, cursor string) {
	w.Header().Set("Link", "<"+nextURL(r, name, cursor)+`>; rel="next"`)
}

// projectsAfter is the page of ps (ordered by key) after the key after
// ("" from the first), at most limit (0: all), and the cursor of the next
// page, "" when this one is the last.
func projectsAfter(ps []pipeline.Project, after string, limit int) ([]pipeline.Project, string) {
	if after != "" {
		i, found := slices.BinarySearchFunc(ps, after, func(p pipeline.Project, key string) int {
			return strings.Compare(p.Key(), key)
		})
		if found {
			i++
		}
		ps = ps[i:]
	}
	if limit <= 0 || len(ps) <= limit {
		return ps, ""
	}
	return ps[:limit], ps[limit-1].Key()
}

// imagesByProject groups images (newest first) by project, each group
// newest first, so that a list finds each project's in one lookup.
func imagesByProject(images []pipeline.DeliveredImage) map[string][]pipeline.DeliveredImage {
	out := map[string][]pipeline.DeliveredImage{}
	for _, img := range images {
		out[img.Project] = append(out[img.Project], img)
	}
	return out
}
