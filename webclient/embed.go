// Package webclient embeds the built browser client (webclient/dist, made by
// `make webclient`) and serves it. Until the client is built, dist holds
// only .gitkeep, everything still compiles, and Available reports false, so
// the node serves its small info page instead.
package webclient

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed all:dist
var embedded embed.FS

// Dist returns the built client's files (dist/ itself as the root).
func Dist() fs.FS {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		panic(err) // dist is embedded: cannot happen
	}
	return sub
}

// Handler serves a built client from fsys: the app shell (index.html) for
// pages, and its static files, precompressed (.br, .gz next to a file) when
// the browser accepts it.
type Handler struct {
	fsys fs.FS
}

// New returns a handler of the client in fsys.
func New(fsys fs.FS) *Handler { return &Handler{fsys: fsys} }

// Available reports whether the client is built (fsys has index.html).
func (h *Handler) Available() bool {
	_, err := fs.Stat(h.fsys, "index.html")
	return err == nil
}

// ServeIndex writes the app shell with the given status. It is never cached
// by HTTP caches: it names the current hashed assets.
func (h *Handler) ServeIndex(w http.ResponseWriter, r *http.Request, status int) {
	h.serve(w, r, "index.html", status, "no-cache")
}

// ServeFile serves the static file at the request's path and reports
// whether there was one. Directories and the index are not files here.
func (h *Handler) ServeFile(w http.ResponseWriter, r *http.Request) bool {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" || name == "index.html" || strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") || strings.HasPrefix(name, ".") {
		return false
	}
	st, err := fs.Stat(h.fsys, name)
	if err != nil || st.IsDir() {
		return false
	}
	cache := "no-cache"
	if strings.HasPrefix(name, "assets/") {
		// Vite puts a content hash in every name under assets/.
		cache = "public, max-age=31536000, immutable"
	}
	h.serve(w, r, name, http.StatusOK, cache)
	return true
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name string, status int, cache string) {
	hd := w.Header()
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".wasm":
		ctype = "application/wasm" // compiled while it streams in
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	file, encoding := name, ""
	accept := r.Header.Get("Accept-Encoding")
	for _, enc := range [...]struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if acceptsEncoding(accept, enc.token) {
			if _, err := fs.Stat(h.fsys, name+enc.ext); err == nil {
				file, encoding = name+enc.ext, enc.token
				break
			}
		}
	}
	data, err := fs.ReadFile(h.fsys, file)
	if err != nil {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	if h.hasVariant(name) {
		hd.Add("Vary", "Accept-Encoding")
	}
	if encoding != "" {
		hd.Set("Content-Encoding", encoding)
	}
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

func (h *Handler) hasVariant(name string) bool {
	for _, ext := range [...]string{".br", ".gz"} {
		if _, err := fs.Stat(h.fsys, name+ext); err == nil {
			return true
		}
	}
	return false
}

// acceptsEncoding reports whether an Accept-Encoding header allows token
// (present, and not with q=0).
func acceptsEncoding(header, token string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
	}
	return false
}
