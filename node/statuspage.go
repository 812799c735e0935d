package node

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// statusPage holds the status page: plain HTML, CSS and JavaScript with no
// build step and nothing fetched from elsewhere, so it works on a machine
// with no internet access. The script polls GET /status and renders it.
//
//go:embed statuspage
var statusPage embed.FS

// statusPageCSP allows only the page's own files and its fetches of
// /status: peer-supplied strings (GPU models, addresses) are inserted as
// text, and the policy stops any script that slipped through anyway.
const statusPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerStatusPage serves the page at GET / and its files under
// GET /statuspage/.
func registerStatusPage(mux *http.ServeMux) {
	files := http.FileServerFS(statusPage)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		b, err := fs.ReadFile(statusPage, "statuspage/index.html")
		if err != nil {
			http.Error(w, "status page missing from the binary", http.StatusInternalServerError)
			return
		}
		pageHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /statuspage/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		pageHeaders(w)
		files.ServeHTTP(w, r)
	})
}

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", statusPageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}
