package node

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/protocol"
)

// What every request passes through before its handler (routes): the
// client's address behind trusted proxies, and the cross-site check of
// writes. Then the limits on WebSockets per address.

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
	// (default 64; negative: no limit); past it, 429 before the upgrade.
	WebSocketsPerIP int
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
	if l.WebSocketsPerIP == 0 {
		l.WebSocketsPerIP = 64
	}
}

// ---- the client's address ----

type clientIPKey struct{}

// clientIP is the address a request's limits are counted under: the peer
// address, or, when the peer is a trusted proxy (Config.TrustedProxies),
// the address the proxies say they got the request from (see
// resolveClient). An IPv6 address counts as its /64: one subscriber
// usually has a whole /64, so counting single addresses would give them
// 2^64 budgets.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return limitKeyOf(peerAddr(r.RemoteAddr))
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// limitKeyOf is the string limits count an address under.
func limitKeyOf(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// parseTrustedProxies reads CIDRs or single addresses.
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or a CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (n *Node) trusted(a netip.Addr) bool {
	for _, p := range n.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// resolveClient is the client's address: the peer, unless the peer is a
// trusted proxy; then X-Forwarded-For is read from the right (each proxy
// appends the address it got the request from), skipping trusted
// proxies, and the first address that is not one is the client. What is
// left of it was written by the client and is ignored. When every entry
// is a trusted proxy, the leftmost is the client; an entry that is not an
// address ends the walk at the last trusted hop.
//
// Rejected: the leftmost entry (the client writes it: one header per
// request would be a fresh budget), and the Forwarded header (RFC 7239;
// the common proxies write X-Forwarded-For by default — one format, one
// parser).
func (n *Node) resolveClient(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if len(n.proxies) == 0 || !n.trusted(peer) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = a.Unmap()
		if !n.trusted(client) {
			return client
		}
	}
	return client
}

// ---- cross-site writes ----

// unsafeMethod says whether a method may change something.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// crossSite says why a write must be refused as coming from another
// site's page, or "" when it may go on. Browsers mark every request with
// Sec-Fetch-Site and the Origin of the page that made it; scripts, curl
// and server-side SDKs send neither and pass (they hold their
// credentials themselves: nothing is forged for them).
//
//   - Sec-Fetch-Site "same-origin" (the node's own pages) or "none" (the
//     person typed or bookmarked it) pass, whatever Origin says (a page
//     with Referrer-Policy no-referrer posts "Origin: null").
//   - Any other Sec-Fetch-Site, and any Origin without Sec-Fetch-Site
//     (older browsers), pass only with an Origin that is the node's own
//     host (the request's, or PublicURL's) or matches AllowedOrigins (the
//     patterns that admit WebSockets, with the same meaning).
//
// The RFC 8058 one-click unsubscribe POST is exempt (routes): mail
// providers post it, and its MAC is its authentication.
//
// Rejected: CSRF tokens (every client, SDK and form would carry one; the
// browser headers say the same with nothing to keep), and checking only
// cookie-authenticated requests (a sign-in link is no cookie, yet posting
// one from a foreign page signs the victim into the attacker's account).
func (n *Node) crossSite(r *http.Request) string {
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	switch site {
	case "same-origin", "none":
		return ""
	case "":
		if origin == "" {
			return ""
		}
	}
	if origin == "" {
		return "a write from another site's page (Sec-Fetch-Site " + strconv.Quote(site) + ")"
	}
	if n.originAllowed(origin, r.Host, false) {
		return ""
	}
	return "a write from a page at " + strconv.Quote(origin) + ", which is not this node (see --allowed-origins)"
}

// originAllowed says whether a page at origin o may act on this node: o
// must be an origin exactly as browsers write it (scheme://host[:port]),
// and its host be the request's host (self), PublicURL's host, or match
// one of the AllowedOrigins patterns: path.Match against host[:port], or
// against scheme://host[:port] for a pattern with a scheme — the meaning
// the WebSocket's OriginPatterns give them. exact (for embedding): only
// the origin as browsers write it, no path, no trailing slash.
func (n *Node) originAllowed(o, self string, exact bool) bool {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	if exact && u.Scheme+"://"+u.Host != o {
		return false
	}
	if strings.EqualFold(u.Host, self) {
		return true
	}
	if pu, err := url.Parse(n.cfg.PublicURL); err == nil && pu.Host != "" && strings.EqualFold(u.Host, pu.Host) {
		return true
	}
	for _, p := range n.cfg.AllowedOrigins {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}

// jsonContent checks that a request's body is declared JSON, writing the
// 415 itself. A page of another site can post text/plain, form or
// multipart bodies without asking; application/json needs a CORS
// preflight, which this node never grants.
func jsonContent(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, protocol.CodeMalformed, "the body must be JSON, sent with Content-Type: application/json")
		return false
	}
	return true
}

// guard wraps every route: it records the client's address and refuses
// cross-site writes.
func (n *Node) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(n.proxies) > 0 {
			r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, limitKeyOf(n.resolveClient(r))))
		}
		if unsafeMethod(r.Method) && !(r.Method == http.MethodPost && r.URL.Path == "/v1/unsubscribe") {
			if why := n.crossSite(r); why != "" {
				writeError(w, http.StatusForbidden, protocol.CodeForbidden, "refused: "+why)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
