package node_test

import (
	"testing"
)

// Every answer of the node says nosniff, whatever route made it: a
// board's summary as text, which its author can make a valid script
// (webclient/test/nosniff.test.mjs runs it in a browser), the JSON of
// the API, the app's pages, an unknown path and a refused write. Without
// it a browser ran a text answer as a script of the node's origin, which
// the app's CSP ('self') lets load.
func TestEveryAnswerSaysNosniff(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"window.x=1/*"}`)
	for _, c := range []struct {
		what                string
		method, path, ctype string
		body                string
		hdr                 map[string]string
	}{
		{what: "the summary as text", method: "GET", path: "/v1/boards/" + b.Board.ID + "/summary?format=txt"},
		{what: "the summary as CSV", method: "GET", path: "/v1/boards/" + b.Board.ID + "/summary?format=csv"},
		{what: "the board's metadata", method: "GET", path: "/v1/boards/" + b.Board.ID},
		{what: "the app's page", method: "GET", path: "/"},
		{what: "an unknown path", method: "GET", path: "/no/such/page.txt"},
		{what: "a refused cross-site write", method: "POST", path: "/v1/boards", ctype: "application/json", body: `{"name":"x"}`,
			hdr: map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}},
	} {
		r := tn.do(c.method, c.path, "", c.ctype, []byte(c.body), c.hdr)
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s (%d): X-Content-Type-Options %q, want nosniff", c.what, r.status, got)
		}
	}
}
