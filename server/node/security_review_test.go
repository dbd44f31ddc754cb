package node_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestEmbedOriginCannotInjectCSP: with a wildcard --allowed-origins
// pattern, an origin whose host carries a ";" (which net/url admits and
// "*" matches) used to be written as it is into the embed page's CSP,
// "frame-ancestors https://evil.example;x.corp.example": a policy that
// lets evil.example frame the board. Such an origin is refused (403); a
// real subdomain still embeds.
func TestEmbedOriginCannotInjectCSP(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.AllowedOrigins = []string{"*.corp.example"} })
	b := tn.createBoard(`{"name":"framed"}`)
	for _, o := range []string{"https://evil.example;x.corp.example", "https://evil.example,x.corp.example", "https://evil.example'x.corp.example"} {
		res := tn.do("GET", "/embed/"+b.Board.ID+"?origin="+url.QueryEscape(o), "", "", nil, nil)
		if csp := res.header.Get("Content-Security-Policy"); strings.Contains(csp, "evil.example") {
			t.Fatalf("origin %q: %d, CSP %q", o, res.status, csp)
		}
		expectError(t, "origin "+o, res, 403, protocol.CodeForbidden)
	}
	res := tn.do("GET", "/embed/"+b.Board.ID+"?origin="+url.QueryEscape("https://app.corp.example"), "", "", nil, nil)
	if csp := res.header.Get("Content-Security-Policy"); res.status != 200 || !strings.HasSuffix(csp, "frame-ancestors https://app.corp.example") {
		t.Fatalf("a real subdomain: %d CSP %q", res.status, csp)
	}
}
