package server

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestWebCompress: pages and assets are gzip-compressed when asked, assets
// have ETags that revalidate to 304, and event streams stay uncompressed.
func TestWebCompress(t *testing.T) {
	e := newWebEnv(t, Options{PublicRead: true})
	fetch := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", e.http.URL+path, nil)
		webMust(t, err)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := e.http.Client().Do(req)
		webMust(t, err)
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			webMust(t, err)
			body = zr
		}
		b, err := io.ReadAll(body)
		webMust(t, err)
		return resp, string(b)
	}
	for _, tc := range []struct{ path, want string }{
		{"/", "<title>Projects · Hoist</title>"},
		{"/p/examples/app/builds/1", `id="build-L1"`},
		{"/static/hoist.css", ":root"},
		{"/static/hoist.js", "use strict"},
		{"/static/htmx.min.js", "htmx"},
	} {
		resp, body := fetch(tc.path, "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s with gzip: encoding %q, body has %q: %v", tc.path, resp.Header.Get("Content-Encoding"), tc.want, strings.Contains(body, tc.want))
		}
		if resp, body := fetch(tc.path, "Accept-Encoding", "identity"); resp.Header.Get("Content-Encoding") != "" || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s without gzip: encoding %q", tc.path, resp.Header.Get("Content-Encoding"))
		}
	}
	resp, _ := fetch("/static/hoist.css")
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("hoist.css: ETag %q, Content-Type %q", etag, resp.Header.Get("Content-Type"))
	}
	if resp, _ := fetch("/static/hoist.css", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating hoist.css: %d, want 304", resp.StatusCode)
	}
	if resp, _ := fetch("/static/nothing.css"); resp.StatusCode != 404 {
		t.Errorf("a missing asset: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", e.http.URL+"/events", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	ctx, cancel := contextWithCancel(t)
	defer cancel()
	resp, err := e.http.Client().Do(req.WithContext(ctx))
	webMust(t, err)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("the event stream is compressed")
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
