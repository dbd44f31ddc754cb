package node_test

import (
	"bytes"
	"strings"
	"testing"

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
