package node

import (
	"net/http"
)

// static serves the web client. Until it is built into the binary, a
// small page says how to use the node.
func (n *Node) static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			writeError(w, 404, "not_found", "no such page")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(indexPage))
	})
}

// boardPage is where board links point. It serves the same page until the
// web client is built into the binary.
func (n *Node) boardPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := n.boardFromPath(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(indexPage))
}

const indexPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corkboard</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:.1em .3em}</style>
</head><body>
<h1>Corkboard</h1>
<p>This node is running. Create a board with</p>
<pre><code>curl -X POST localhost:8080/v1/boards -d '{"name":"My board"}'</code></pre>
<p>then connect a client to <code>/v1/boards/{id}/ws</code> (see docs/PROTOCOL.md)
or read the board with <code>GET /v1/boards/{id}/state</code> (docs/API.md).</p>
<p>Health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>
`
