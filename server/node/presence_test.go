package node_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"

	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/protocol"
)

func TestPresence(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"presence"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	a := dial(t, u, 1)
	bb := dial(t, u, 2)
	ctx := ctx10(t)
	sa := a.Welcome().Session
	// b's welcome listed a; a heard of b's arrival.
	if ps := bb.Peers(); len(ps) != 1 || ps[0].Session != sa || ps[0].Replica != 1 {
		t.Fatalf("b's peers on joining: %+v", ps)
	}
	sb := bb.Welcome().Session
	waitClient(t, a, func() bool {
		ps := a.Peers()
		return len(ps) == 1 && ps[0].Session == sb
	})

	data := []byte(`{"cursor":[120.5,-3],"sel":["x"]}`)
	if err := a.Presence(ctx, data); err != nil {
		t.Fatal(err)
	}
	waitClient(t, bb, func() bool {
		for _, p := range bb.Peers() {
			if p.Session == sa && bytes.Equal(p.Data, data) {
				return true
			}
		}
		return false
	})
	// A newcomer sees a's presence in its welcome.
	c := dial(t, u, 3)
	found := false
	for _, p := range c.Welcome().Peers {
		found = found || p.Session == sa && bytes.Equal(p.Data, data)
	}
	if !found {
		t.Fatalf("newcomer's welcome peers %+v lack a's presence", c.Welcome().Peers)
	}
	// A presence frame over the limit is refused, and the last good one stays.
	if err := a.Presence(ctx, []byte(`"`+strings.Repeat("x", protocol.MaxPresenceBytes)+`"`)); err != nil {
		t.Fatal(err)
	}
	waitClient(t, a, func() bool {
		es := a.Errors()
		return len(es) == 1 && es[0].Code == protocol.CodeMalformed
	})
	// a leaves: the others are told.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*client.Client{bb, c} {
		waitClient(t, o, func() bool {
			for _, p := range o.Peers() {
				if p.Session == sa {
					return false
				}
			}
			return true
		})
	}
	if ps := bb.Peers(); len(ps) != 1 || ps[0].Session != c.Welcome().Session {
		t.Fatalf("b's peers after a left: %+v", ps)
	}
}

// A signed-in person's presence colour is their profile's, whatever their
// browser asks for in its hello (with the session cookie, and with the
// board token made when they created the board); guests keep the colour
// they ask for unless someone present wears it, then they get a free one.
func TestPresenceColors(t *testing.T) {
	e := newAsyncEnv(t, time.Now())
	ada := e.signIn("ada@example.com")
	e.must(200, "PATCH", "/v1/me", ada, map[string]any{"color": "#123456"})
	created := e.must(201, "POST", "/v1/boards", ada, map[string]any{"name": "colours"})
	board := created["board"].(map[string]any)["id"].(string)
	orange := "#e8590c"
	dialColor := func(u string, hdr http.Header, rep crdt.ReplicaID) *client.Client {
		t.Helper()
		c, err := client.Dial(ctx10(t), client.Options{URL: u, Replica: rep, Name: "x", Color: orange, Header: hdr})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Session "+ada)
	a := dialColor(e.tn.wsURL(board, ""), hdr, 1)
	if got := a.Welcome().User.Color; got != "#123456" {
		t.Fatalf("signed-in welcome colour %q, want the profile's #123456", got)
	}
	// The creator's own board token: the profile's colour too.
	a2 := dialColor(e.tn.wsURL(board, created["token"].(string)), nil, 2)
	if got := a2.Welcome().User.Color; got != "#123456" {
		t.Fatalf("creator-token welcome colour %q, want #123456", got)
	}
	// Two guests asking for the same orange: the first keeps it, the
	// second gets another colour nobody present wears.
	g1 := dialColor(e.tn.wsURL(board, ""), nil, 3)
	if got := g1.Welcome().User.Color; got != orange {
		t.Fatalf("first guest colour %q, want its own %s", got, orange)
	}
	g2 := dialColor(e.tn.wsURL(board, ""), nil, 4)
	c2 := g2.Welcome().User.Color
	if c2 == orange || c2 == "#123456" || c2 == "" {
		t.Fatalf("second guest colour %q collides (or is empty)", c2)
	}
	// The others see it in presence too.
	waitClient(t, g1, func() bool {
		for _, p := range g1.Peers() {
			if p.Session == g2.Welcome().Session {
				return p.Color == c2
			}
		}
		return false
	})
}
