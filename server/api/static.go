package api

import (
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
	"github.com/corkboard/corkboard/webclient"
)

// client is the web client built into the binary (webclient/dist); until
// `make webclient` has built it, a small page says how to use the node.
var client = webclient.New(webclient.Dist())

// static serves the web client: its home page at / and its files (the
// hashed assets, the service worker). Without a built client, / is the
// info page. Any other path is a JSON 404, like every unknown route.
func (srv *Server) static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, 404, "not_found", "no such page")
			return
		}
		if r.URL.Path == "/" {
			shellHeaders(w, "")
			if client.Available() {
				client.ServeIndex(w, r, http.StatusOK)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(indexPage))
			return
		}
		if strings.HasSuffix(path.Clean(r.URL.Path), ".html") { // as ServeFile finds the file
			// A page of the client's other than the shell (the embed
			// example): the shell's headers, so that it runs scripts of
			// this origin only, whatever its query names (a link to
			// /embed-example.html?node=<another site> ran that site's
			// script on the node's origin), and is framed by the node's
			// own pages only.
			shellHeaders(w, "")
		}
		if client.Available() && client.ServeFile(w, r) {
			return
		}
		writeError(w, 404, "not_found", "no such page")
	})
}

// boardPage is where board links point (/b/{board}?token=...): the web
// client's app shell, which connects to the board. An unknown board still
// gets the shell, with a 404, so the client can say so in the page.
func (srv *Server) boardPage(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("Content-Security-Policy") == "" { // embedPage set its own
		shellHeaders(w, "")
	}
	if !client.Available() {
		if _, _, ok := srv.boardFromPath(w, r); !ok {
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(indexPage))
		return
	}
	status := http.StatusOK
	id, err := storage.ParseBoardID(r.PathValue("board"))
	if err != nil {
		status = http.StatusBadRequest
	} else if _, err := srv.cfg.Boards.Load(r.Context(), id); errors.Is(err, storage.ErrNotFound) {
		status = http.StatusNotFound
	}
	// Other errors (storage): the shell anyway; the client has its own
	// copy of the board and will retry the node.
	client.ServeIndex(w, r, status)
}

// embedPage is /embed/{board}?origin=...&mode=view|edit&token=...: the web
// client's app shell, chrome-less, for an iframe (docs/EMBED.md). A page
// framed by another site must name that site in `origin`, exactly
// (scheme://host[:port]), and the origin must be allowed by
// --allowed-origins (the same patterns that admit WebSockets); the page may
// then be framed by that origin only (CSP frame-ancestors). Without
// `origin` only the node's own pages may frame it.
func (srv *Server) embedPage(w http.ResponseWriter, r *http.Request) {
	ancestors := "'self'"
	if o := r.URL.Query().Get("origin"); o != "" {
		if !srv.cfg.Guard.OriginAllowed(o, r.Host, true) {
			writeError(w, 403, protocol.CodeForbidden, "origin "+strconv.Quote(o)+" may not embed boards of this node (see --allowed-origins)")
			return
		}
		ancestors = o
	}
	shellHeaders(w, ancestors)
	srv.boardPage(w, r)
}

// shellCSP is the app shell's Content-Security-Policy, with
// frame-ancestors added by shellHeaders. What the built client needs:
// its own scripts and the CRDT's WebAssembly ('wasm-unsafe-eval'; no
// eval of JavaScript), style attributes (avatars' and swatches' colours:
// 'unsafe-inline' for styles only), pictures as blob: and data: URLs,
// fetch and WebSocket to the node itself ('self' covers ws: and wss: of
// the same host), and its service worker. Everything else is refused:
// no plugins, no <base>, forms post to the node only.
const shellCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

// shellHeaders sets the security headers of an app shell page: shellCSP,
// and who may frame it: ancestors ("" for the node's own pages only, which
// also says X-Frame-Options: SAMEORIGIN for browsers without CSP). A page
// of the node's own that is framed by another site could be clickjacked.
func shellHeaders(w http.ResponseWriter, ancestors string) {
	hd := w.Header()
	if ancestors == "" {
		ancestors = "'self'"
		hd.Set("X-Frame-Options", "SAMEORIGIN")
	}
	hd.Set("Content-Security-Policy", shellCSP+"; frame-ancestors "+ancestors)
	// Board links carry a token in their query: never in a Referer to
	// another site.
	hd.Set("Referrer-Policy", "same-origin")
}

const indexPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corkboard</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:.1em .3em}</style>
</head><body>
<h1>Corkboard</h1>
<p>This node is running. The web client is not built into this binary
(<code>make webclient build</code> builds it). Create a board with</p>
<pre><code>curl -X POST localhost:8080/v1/boards -H 'Content-Type: application/json' -d '{"name":"My board"}'</code></pre>
<p>then connect a client to <code>/v1/boards/{id}/ws</code> (see docs/PROTOCOL.md)
or read the board with <code>GET /v1/boards/{id}/state</code> (docs/API.md).</p>
<p>Health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>
`
