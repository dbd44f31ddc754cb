package node

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
)

func writeJSON(w http.ResponseWriter, status int, v any) { reply.JSON(w, status, v) }

func writeError(w http.ResponseWriter, status int, code protocol.Code, msg string) {
	reply.Error(w, status, code, msg)
}

// HTTPLimits bound the HTTP server's connections. Zero values take the
// stated defaults.
type HTTPLimits struct {
	// ReadTimeout bounds reading a request, headers and body (default
	// 30s). A blob upload gets BodyTimeout instead, from its handler.
	ReadTimeout time.Duration
	// BodyTimeout bounds reading a blob upload's body (default 2 min: 10
	// MiB at 90 KB/s).
	BodyTimeout time.Duration
	// WriteTimeout bounds writing a response (default 60s); the answers
	// that may be large (blobs, /ops, /state, summaries) get LongWrite.
	WriteTimeout time.Duration
	// LongWrite bounds writing the large answers (default 5 min).
	LongWrite time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new
	// request for this long (default 2 min).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int
	// WebSocketsPerIP bounds the open WebSockets of one client address
	// (default 64; negative: no limit, and no WebSocketOpensPerIP
	// either unless it is set); past it, 429 before the upgrade.
	WebSocketsPerIP int
	// WebSocketOpensPerIP bounds the WebSockets one client address may
	// open a minute, closed since or not (default 480; negative: no
	// limit); past it, 429 with Retry-After before the upgrade.
	WebSocketOpensPerIP int
	// ReplicaClaimsPerIP bounds the new replica ids one client address
	// may claim on one board an hour, in the whole cluster (default 200;
	// negative: no limit): each is a record kept for good, copied to
	// every node, and an entry in the board's version vector, which
	// every welcome carries and every returning client sends back in
	// its hello. Past it, the first changes of a connection under a new
	// replica id are refused with "rate_limited" (resend later); a
	// replica id already claimed is not counted. Guests on a public
	// board make a new replica id per connection with one small change
	// each, and one address grew a board's vector past what a hello may
	// carry. Rejected: a bound per board whoever writes (a stranger
	// could keep the board's own people from editing), and forgetting
	// claims (a replica id taken again by someone else would be refused
	// to its first owner, 4104).
	ReplicaClaimsPerIP int
	// MaxWebSockets bounds the node's open WebSockets (default 0: no
	// limit); past it, 503 before the upgrade, so a client tries another
	// node.
	MaxWebSockets int
}

func (l *HTTPLimits) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadTimeout, 30*time.Second)
	def(&l.BodyTimeout, 2*time.Minute)
	def(&l.WriteTimeout, 60*time.Second)
	def(&l.LongWrite, 5*time.Minute)
	def(&l.IdleTimeout, 2*time.Minute)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.WebSocketOpensPerIP == 0 {
		l.WebSocketOpensPerIP = 480
		if l.WebSocketsPerIP < 0 {
			l.WebSocketOpensPerIP = -1
		}
	}
	if l.WebSocketsPerIP == 0 {
		l.WebSocketsPerIP = 64
	}
	if l.ReplicaClaimsPerIP == 0 {
		l.ReplicaClaimsPerIP = 200
	}
}

// statusRecorder captures the status for metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool // the answer has begun (its header is sent or the connection taken)
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status, s.wrote = code, true
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Hijack lets the WebSocket upgrade take the connection over.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s.status, s.wrote = http.StatusSwitchingProtocols, true
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController (and the WebSocket upgrade) reach
// the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// longAnswers are the routes whose answers may be large (a board's whole
// log or state, a 10 MiB picture, a summary): they may take
// HTTPLimits.LongWrite to write instead of WriteTimeout.
var longAnswers = map[string]bool{
	"GET /v1/boards/{board}/state":        true,
	"GET /v1/boards/{board}/ops":          true,
	"GET /v1/boards/{board}/blobs/{blob}": true,
	"GET /v1/boards/{board}/summary":      true,
	"GET /v1/boards/{board}/changes":      true,
}

// wsRoute is the WebSocket route: its handler lasts as long as the
// session, so its requests are counted but not timed.
const wsRoute = "GET /v1/boards/{board}/ws"

// longBodies are the routes whose bodies may be large (a picture): they
// may take HTTPLimits.BodyTimeout to arrive instead of ReadTimeout.
var longBodies = map[string]bool{
	"POST /v1/boards/{board}/blobs": true,
}

// A call is judged once its body is in. The handlers check the caller's
// credential against the board's settings first, then read the body, then
// act: a client that sent the headers and held the body back for as long
// as the read timeout allows acted on settings its credential no longer
// had (an owner link revoked meanwhile changed the settings and got a new
// owner token; a deleted link's write applied). So the node reads a
// call's body before its handler runs, up to prereadBody bytes: every
// body the JSON handlers accept (they take at most 64 KiB) is in before
// the credential is checked, and a bigger one is refused by its handler
// as before, at once. The routes whose bodies may be bigger (streamedBodies:
// pictures, imports, the write API's 4 MiB) check the caller again once
// they have read it. Rejected: reading every body whole before any
// handler (a stranger could make the node hold megabytes for a call it
// then refuses); checking again in every handler after its body (one
// forgotten handler is the hole again).
const prereadBody = 64<<10 + 1

// streamedBodies are the routes that read their bodies themselves, past
// prereadBody, and check the caller again once they have.
var streamedBodies = map[string]bool{
	"POST /v1/boards/{board}/blobs":  true,
	"POST /v1/boards/{board}/import": true,
	"POST /v1/boards/import":         true, // a new board: no caller to check
}

// preread reads up to prereadBody bytes of r's body before its handler
// runs (see prereadBody); the handler reads the same bytes, then the rest,
// and any error reading it, as it would have.
func preread(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	// Read as it comes (a buffer that grows with what arrived, not 64 KiB
	// for each call that declares a body); ReadAll ends cleanly at the
	// body's end only, and passes on any other error (a body cut short
	// is io.ErrUnexpectedEOF from net/http, as the handler would have had).
	buf, err := io.ReadAll(io.LimitReader(r.Body, prereadBody))
	var rest io.Reader = r.Body
	switch {
	case err != nil:
		rest = errReader{err}
	case len(buf) < prereadBody:
		rest = eofReader{}
	}
	r.Body = prereadBodyReader{Reader: io.MultiReader(bytes.NewReader(buf), rest), Closer: r.Body}
}

type prereadBodyReader struct {
	io.Reader
	io.Closer
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	n.patterns = append(n.patterns[:0], "GET /metrics")
	handle := func(pattern string, h http.HandlerFunc) {
		n.patterns = append(n.patterns, pattern)
		long, body, ws := longAnswers[pattern], longBodies[pattern], pattern == wsRoute
		streamed := streamedBodies[pattern] || ws
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, status: 200}
			start := time.Now()
			if long || body {
				rc := http.NewResponseController(w)
				if long {
					rc.SetWriteDeadline(start.Add(n.cfg.HTTP.LongWrite))
				}
				if body {
					rc.SetReadDeadline(start.Add(n.cfg.HTTP.BodyTimeout))
					rc.SetWriteDeadline(start.Add(n.cfg.HTTP.BodyTimeout + n.cfg.HTTP.WriteTimeout))
				}
			}
			if !streamed {
				preread(r)
			}
			defer func() {
				// A bug a request trips ends that request: logged, counted
				// and answered 500 with a JSON body when nothing was sent
				// yet (net/http alone closed the connection with no answer).
				p := recover()
				if p == nil {
					return
				}
				if p == http.ErrAbortHandler {
					panic(p)
				}
				n.log.Error("panic in a request's handler", "route", pattern, "panic", p, "stack", string(debug.Stack()))
				n.metrics.Panic("http")
				if rec.wrote {
					panic(http.ErrAbortHandler) // the answer has begun: cut it
				}
				writeError(rec, 500, protocol.CodeInternal, "internal error")
				n.metrics.HTTPRequest(pattern, 500)
			}()
			h(rec, r)
			n.metrics.HTTPRequest(pattern, rec.status)
			if !ws {
				n.metrics.HTTPDuration(pattern, time.Since(start))
			}
			if rec.status >= 500 {
				n.log.Warn("request failed", "route", pattern, "status", rec.status, "took", time.Since(start))
			}
		})
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if !n.metricsAllowed(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			reply.Error(w, 401, protocol.CodeUnauthorized, "GET /metrics needs the node's metrics token (Authorization: Bearer …)")
			return
		}
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(n.cfg.HTTP.LongWrite))
		n.metrics.Handler().ServeHTTP(w, r)
	})
	handle("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "ok", "node": n.cfg.NodeID})
	})
	handle("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := n.Ready(); err != nil {
			writeJSON(w, 503, map[string]any{"status": "unavailable", "reason": err.Error(), "node": n.cfg.NodeID})
			return
		}
		// metadata: "fresh" when a quorum took this node's writes lately
		// (else new connections are refused: docs/CLUSTER.md); leader:
		// whether this node runs the notifier passes now.
		state := "stale"
		if n.meta.Fresh() {
			state = "fresh"
		}
		writeJSON(w, 200, map[string]any{"status": "ready", "node": n.cfg.NodeID, "rooms": n.rooms.Rooms(), "peers": n.Peers(),
			"metadata": state, "leader": n.leader()})
	})
	handle(wsRoute, n.gw.ServeHTTP)
	n.api.Routes(handle)
	// What no route matched: the web client's files, unknown paths and
	// methods, under one route label (metrics.OtherRoute).
	static := n.api.Static()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		start := time.Now()
		static.ServeHTTP(rec, r)
		n.metrics.HTTPRequest(metrics.OtherRoute, rec.status)
		n.metrics.HTTPDuration(metrics.OtherRoute, time.Since(start))
	})
	return n.guard.Wrap(mux)
}

// Routes lists the node's route patterns ("METHOD /path/{param}"), but the
// client's files: what docs/openapi.yaml describes.
func (n *Node) Routes() []string { return slices.Clone(n.patterns) }

// metricsAllowed says whether r may read the metrics: any request when
// the node has no metrics token, else one bearing it (compared in
// constant time).
func (n *Node) metricsAllowed(r *http.Request) bool {
	want := n.cfg.MetricsToken
	if want == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
