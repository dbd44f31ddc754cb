package httpguard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The client's address is read from X-Forwarded-For from the right,
// skipping trusted proxies only; what the client wrote at the left is
// ignored, and an IPv6 client counts as its /64.
func TestClientIPBehindProxies(t *testing.T) {
	g, err := New([]string{"10.0.0.0/8", "127.0.0.1"}, func() string { return "http://node.example" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ peer, xff, want string }{
		{"127.0.0.1:5000", "198.51.100.7, 203.0.113.9, 10.1.2.3", "203.0.113.9"},
		{"127.0.0.1:5000", "", "127.0.0.1"},
		{"192.0.2.1:5000", "203.0.113.9", "192.0.2.1"}, // an untrusted peer's header is ignored
		{"127.0.0.1:5000", "2001:db8:1:2::5", "2001:db8:1:2::/64"},
		{"127.0.0.1:5000", "junk, 10.0.0.1", "10.0.0.1"}, // not an address: the walk ends at the last trusted hop
	} {
		var got string
		h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r) }))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
	if _, err := New([]string{"not an address"}, nil, nil); err == nil {
		t.Error("a bad trusted proxy was accepted")
	}
}

// A write from another site's page is refused with 403 before its
// handler; the node's own pages, scripts without browser headers and
// reads pass.
func TestCrossSiteWritesRefused(t *testing.T) {
	g, err := New(nil, func() string { return "https://node.example" }, []string{"*.allowed.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, site, origin string
		want                 int
	}{
		{"POST", "cross-site", "https://evil.example", 403},
		{"POST", "", "https://evil.example", 403},
		{"POST", "same-origin", "null", 200},
		{"POST", "", "", 200},
		{"POST", "cross-site", "https://node.example", 200},
		{"POST", "cross-site", "https://app.allowed.example", 200},
		{"GET", "cross-site", "https://evil.example", 200},
	} {
		h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		r := httptest.NewRequest(c.method, "/v1/boards", nil)
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != c.want {
			t.Errorf("%s with Sec-Fetch-Site %q, Origin %q: %d, want %d", c.method, c.site, c.origin, rec.Code, c.want)
		}
	}
}
