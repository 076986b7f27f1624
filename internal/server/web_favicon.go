package server

import (
	_ "embed"
	"net/http"
)

//go:embed static/favicon.svg
var favicon []byte

// serveFavicon serves /favicon.ico, which browsers ask for on their own:
// the site's icon (an SVG, which they accept under that name too). A
// build's page sets an icon of its status (hoist.js).
func serveFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(favicon)
}
