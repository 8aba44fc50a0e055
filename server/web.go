package server

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed web
var webFiles embed.FS

//go:embed openapi.json
var openAPIDoc []byte

var webFS = func() fs.FS {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}()

// handleWeb serves the embedded page and its assets.
func (s *Server) handleWeb(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such endpoint"})
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	// The file server answers a missing file in plain text: make it JSON.
	http.FileServerFS(webFS).ServeHTTP(&jsonErrorWriter{ResponseWriter: w, s: s, r: r}, r)
}

// handleOpenAPI serves the OpenAPI 3.1 document of the API.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPIDoc)
}
