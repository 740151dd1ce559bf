package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// The editor's built assets (source under ui/src, rebuilt by `make web`).
// all: keeps files whose names start with "_" or ".".
//
//go:embed all:ui/dist
var uiDist embed.FS

// pageCSP keeps the page to its own origin: everything it runs is in the
// bundle, and it talks only to this server's API and websockets (named
// with their ws: and wss: schemes too, for browsers whose 'self' does not
// cover them).
func pageCSP(host string) string {
	conn := "'self'"
	if host != "" && !strings.ContainsAny(host, " ;,'\"") {
		conn += " ws://" + host + " wss://" + host
	}
	return "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src " + conn +
		"; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// page serves the editor's index.html. It names the bundle by content
// hash, so it is never cached and the bundle always is.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	b, err := uiDist.ReadFile("ui/dist/index.html")
	if err != nil {
		http.Error(w, "the editor is not built into this binary", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", pageCSP(r.Host))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Write(b)
}

// assets serves the bundle under /assets/. Names carry a content hash, so
// a file never changes and may be cached for a year; a gzip copy made by
// the build is sent to clients that accept it.
func assets() http.Handler {
	sub, err := fs.Sub(uiDist, "ui/dist/assets")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/assets/")
		if name == "" || strings.HasSuffix(name, ".gz") || !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		switch path.Ext(name) {
		case ".js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		case ".css":
			h.Set("Content-Type", "text/css; charset=utf-8")
		case ".map":
			h.Set("Content-Type", "application/json")
		}
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if gz, err := fs.ReadFile(sub, name+".gz"); err == nil {
				h.Set("Content-Encoding", "gzip")
				body = gz
			}
		}
		w.Write(body)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
