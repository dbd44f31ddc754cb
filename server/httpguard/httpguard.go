// Package httpguard is what every HTTP request passes through before its
// handler: the client's address (behind trusted proxies), under which
// limits count it, the refusal of writes from another site's page (the
// origin checks that stand in for CSRF tokens), and the header that keeps
// browsers from taking an answer for another type than it says
// (nosniff).
package httpguard

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

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
)

// Guard checks a node's requests.
type Guard struct {
	proxies   []netip.Prefix // trusted proxies
	publicURL func() string  // how clients reach the node
	allowed   []string       // AllowedOrigins patterns
}

// New makes a guard: trustedProxies are the proxies (CIDRs or addresses)
// whose X-Forwarded-For is believed; publicURL is how clients reach the
// node (it may change once the node has bound its port);
// allowedOrigins are the extra Origin host patterns that may act on it.
func New(trustedProxies []string, publicURL func() string, allowedOrigins []string) (*Guard, error) {
	proxies, err := parseTrustedProxies(trustedProxies)
	if err != nil {
		return nil, err
	}
	return &Guard{proxies: proxies, publicURL: publicURL, allowed: allowedOrigins}, nil
}

// ---- the client's address ----

type clientIPKey struct{}

// ClientIP is the address a request's limits are counted under: the peer
// address, or, when the peer is a trusted proxy (Config.TrustedProxies),
// the address the proxies say they got the request from (see
// resolveClient). An IPv6 address counts as its /64: one subscriber
// usually has a whole /64, so counting single addresses would give them
// 2^64 budgets.
func ClientIP(r *http.Request) string {
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

func (g *Guard) trusted(a netip.Addr) bool {
	for _, p := range g.proxies {
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
func (g *Guard) resolveClient(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if len(g.proxies) == 0 || !g.trusted(peer) {
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
		if !g.trusted(client) {
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
// The RFC 8058 one-click unsubscribe POST is exempt (the node's routes): mail
// providers post it, and its MAC is its authentication.
//
// Rejected: CSRF tokens (every client, SDK and form would carry one; the
// browser headers say the same with nothing to keep), and checking only
// cookie-authenticated requests (a sign-in link is no cookie, yet posting
// one from a foreign page signs the victim into the attacker's account).
func (g *Guard) crossSite(r *http.Request) string {
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
	if g.OriginAllowed(origin, r.Host, false) {
		return ""
	}
	return "a write from a page at " + strconv.Quote(origin) + ", which is not this node (see --allowed-origins)"
}

// OriginAllowed says whether a page at origin o may act on this node: o
// must be an origin exactly as browsers write it (scheme://host[:port]),
// and its host be the request's host (self), PublicURL's host, or match
// one of the AllowedOrigins patterns: path.Match against host[:port], or
// against scheme://host[:port] for a pattern with a scheme — the meaning
// the WebSocket's OriginPatterns give them. exact (for embedding): only
// the origin as browsers write it, no path, no trailing slash.
func (g *Guard) OriginAllowed(o, self string, exact bool) bool {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	if exact && u.Scheme+"://"+u.Host != o {
		return false
	}
	if !plainHost(u.Host) {
		return false
	}
	if strings.EqualFold(u.Host, self) {
		return true
	}
	if pu, err := url.Parse(g.publicURL()); err == nil && pu.Host != "" && strings.EqualFold(u.Host, pu.Host) {
		return true
	}
	for _, p := range g.allowed {
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

// JSONContent checks that a request's body is declared JSON, writing the
// 415 itself. A page of another site can post text/plain, form or
// multipart bodies without asking; application/json needs a CORS
// preflight, which this node never grants.
func JSONContent(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		reply.Error(w, http.StatusUnsupportedMediaType, protocol.CodeMalformed, "the body must be JSON, sent with Content-Type: application/json")
		return false
	}
	return true
}

// Wrap wraps every route: it records the client's address, refuses
// cross-site writes, and says nosniff on every answer.
//
// nosniff: the app's CSP runs scripts of the node's own origin ('self'),
// and the node serves text anyone may write (a board's summary as
// text/plain is its name, its ideas and who took part). Without it the
// browser ran such an answer as a script when a page asked for one (a
// summary can be made a valid script), so that any markup put into a
// page of the node ran whatever its author wrote, the CSP
// notwithstanding; with it, a script must be served as JavaScript, which
// only the client's own files are.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if len(g.proxies) > 0 {
			r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, limitKeyOf(g.resolveClient(r))))
		}
		if unsafeMethod(r.Method) && !(r.Method == http.MethodPost && r.URL.Path == "/v1/unsubscribe") {
			if why := g.crossSite(r); why != "" {
				reply.Error(w, http.StatusForbidden, protocol.CodeForbidden, "refused: "+why)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// plainHost says whether host[:port] is made only of what a browser's
// origin can hold: letters, digits, '.', '-', '_', a port, or an IPv6 literal
// in brackets. net/url admits RFC 3986's sub-delimiters in a host (";",
// ",", "'", …), and path.Match's "*" matches them, so without this a
// pattern "*.example.com" admitted "https://evil.test;x.example.com",
// which the embed page then wrote into its CSP as "frame-ancestors
// https://evil.test;x.example.com": a frame-ancestors of evil.test (the
// ";" ends the directive). Rejected: quoting the origin in the CSP (CSP
// has no quoting for host sources).
func plainHost(host string) bool {
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return host != ""
}
