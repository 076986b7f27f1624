package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
)

// Pages and the embedded assets are sent gzip-compressed to browsers that
// ask (Accept-Encoding: gzip); the assets carry an ETag, so a browser
// revalidating one gets 304 Not Modified. Event streams and log streams are
// never compressed: they must reach the browser as they are written.

// minGzip is the smallest body worth compressing.
const minGzip = 1024

// acceptsGzip reports whether the request accepts gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// gzipBytes compresses b as small as gzip can: for the assets, which
// are compressed once.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// pageGzip holds the gzip writers of pages, which are compressed at every
// request: at gzip's fastest level (several times cheaper than its best,
// for pages a few percent larger), and reused, since a new writer
// allocates its whole state.
var pageGzip = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// gzipPage compresses a page's body b.
func gzipPage(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b) / 4)
	zw := pageGzip.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	pageGzip.Put(zw)
	return buf.Bytes()
}

// writeBody writes a whole body with status, compressed when r accepts it
// and it is worth it. The headers but the encoding are set by the caller.
func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	writeBodyGzip(w, r, status, body, nil)
}

// writeBodyGzip is writeBody with body compressed already, gz (nil: it
// compresses body when it needs to).
func writeBodyGzip(w http.ResponseWriter, r *http.Request, status int, body, gz []byte) {
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	if len(body) >= minGzip && acceptsGzip(r) {
		if gz == nil {
			gz = gzipPage(body)
		}
		body = gz
		h.Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// asset is one embedded static file, ready to serve.
type asset struct {
	data, gz []byte
	ctype    string
	etag     string
}

// assets holds every file of staticFS, read and compressed once.
var assets = sync.OnceValue(func() map[string]*asset {
	out := map[string]*asset{}
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		a := &asset{data: data, ctype: mime.TypeByExtension(path.Ext(p)), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if a.ctype == "" {
			a.ctype = http.DetectContentType(data)
		}
		if len(data) >= minGzip {
			a.gz = gzipBytes(data)
		}
		out[strings.TrimPrefix(p, "static/")] = a
		return nil
	})
	return out
})

// serveStatic serves /static/NAME from the embedded files, with an ETag,
// gzip when asked, and an hour of caching.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	a, ok := assets()[strings.TrimPrefix(r.URL.Path, "/static/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.data
	if a.gz != nil && acceptsGzip(r) {
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches reports whether an If-None-Match header names etag.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
