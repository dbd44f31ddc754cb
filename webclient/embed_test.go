package webclient

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":            {Data: []byte("<!doctype html>shell")},
		"sw.js":                 {Data: []byte("// sw")},
		"assets/app-1a2b.js":    {Data: []byte("console.log(1)")},
		"assets/app-1a2b.js.br": {Data: []byte("BR")},
		"assets/app-1a2b.js.gz": {Data: []byte("GZ")},
		"assets/crdt-9f.wasm":   {Data: []byte("\x00asm")},
		".gitkeep":              {Data: nil},
	}
	h := New(fsys)
	if !h.Available() {
		t.Fatal("Available = false with an index.html")
	}
	get := func(path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept-Encoding", accept)
		}
		w := httptest.NewRecorder()
		if !h.ServeFile(w, r) {
			w.Code = 404
		}
		return w
	}
	for _, c := range []struct {
		path, accept, body, enc, ctype, cache string
		code                                  int
	}{
		{"/assets/app-1a2b.js", "gzip, deflate, br", "BR", "br", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{"/assets/app-1a2b.js", "gzip", "GZ", "gzip", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{"/assets/app-1a2b.js", "br;q=0, gzip", "GZ", "gzip", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{"/assets/app-1a2b.js", "", "console.log(1)", "", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{"/assets/crdt-9f.wasm", "br", "\x00asm", "", "application/wasm", "public, max-age=31536000, immutable", 200},
		{"/sw.js", "", "// sw", "", "text/javascript; charset=utf-8", "no-cache", 200},
		{"/assets/app-1a2b.js.br", "", "", "", "", "", 404},
		{"/index.html", "", "", "", "", "", 404},
		{"/.gitkeep", "", "", "", "", "", 404},
		{"/assets", "", "", "", "", "", 404},
		{"/nope.js", "", "", "", "", "", 404},
		{"/../index.html", "", "", "", "", "", 404},
	} {
		w := get(c.path, c.accept)
		if w.Code != c.code {
			t.Errorf("%s (%q): status %d, want %d", c.path, c.accept, w.Code, c.code)
			continue
		}
		if c.code != 200 {
			continue
		}
		if w.Body.String() != c.body || w.Header().Get("Content-Encoding") != c.enc ||
			w.Header().Get("Content-Type") != c.ctype || w.Header().Get("Cache-Control") != c.cache {
			t.Errorf("%s (%q): body %q encoding %q type %q cache %q", c.path, c.accept, w.Body.String(),
				w.Header().Get("Content-Encoding"), w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))
		}
	}
	w := httptest.NewRecorder()
	h.ServeIndex(w, httptest.NewRequest("GET", "/b/x", nil), http.StatusNotFound)
	if w.Code != 404 || w.Body.String() != "<!doctype html>shell" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("index: %d %q %q", w.Code, w.Body.String(), w.Header().Get("Cache-Control"))
	}
	if New(fstest.MapFS{".gitkeep": {}}).Available() {
		t.Error("Available = true without index.html")
	}
}
