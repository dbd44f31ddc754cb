package node_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/node"
)

// Three nodes on one bus, each with its own Pebble: a board made on one is
// known to all; a node that did not have the board loaded while it was
// edited catches up when it loads it; edits on any node reach clients on
// the others; a deletion reaches every node.
func TestNodesCatchUpAndShareBoards(t *testing.T) {
	hub := bus.NewHub()
	secret := bytes.Repeat([]byte{7}, 32) // nodes of a cluster share it
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) { c.NodeID, c.Bus, c.Secret = id, hub.Node(id), secret })
	}
	a, b, c := mk("a"), mk("b"), mk("c")
	board := a.createBoard(`{"name":"shared"}`)
	id, tok := board.Board.ID, board.Token
	for _, n := range []*testNode{b, c} {
		if code, body := n.get("/v1/boards/" + id + "?token=" + tok); code != 200 {
			t.Fatalf("a node does not know the board made on a: %d %s", code, body)
		}
	}
	// Edits on a, while no other node has the board loaded.
	ca := dial(t, a.wsURL(id, tok), 1)
	ctx := ctx10(t)
	var last uint64
	for i := 0; i < 20; i++ {
		seq, err := ca.Edit(ctx, 0, func(tx *crdt.Tx) error {
			if err := tx.Create(elem(i), "note"); err != nil {
				return err
			}
			return tx.InsertText(elem(i), "text", 0, "idea")
		})
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if err := ca.WaitAck(ctx, last); err != nil {
		t.Fatal(err)
	}
	// b loads the board on a client's join and asks the others for it.
	cb := dial(t, b.wsURL(id, tok), 2)
	if err := cb.WaitDoc(ctx, func(d *crdt.Doc) bool { return d.Len() == 20 }); err != nil {
		t.Fatalf("client on b never got a's 20 notes: %v", err)
	}
	// Live: an edit on b reaches the client on a.
	seq, _ := cb.Edit(ctx, 0, func(tx *crdt.Tx) error { return tx.InsertText(elem(3), "text", 0, "b: ") })
	if err := cb.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	waitText(t, ca, elem(3), "b: idea")
	// c joins last and gets everything from the others.
	cc := dial(t, c.wsURL(id, tok), 3)
	waitText(t, cc, elem(3), "b: idea")
	if !bytes.Equal(snapshotOf(ca), snapshotOf(cb)) || !bytes.Equal(snapshotOf(cb), snapshotOf(cc)) {
		t.Fatal("clients on the three nodes diverged")
	}
	sa := a.state(id, tok)
	if sb, sc := b.state(id, tok), c.state(id, tok); !bytes.Equal(sa, sb) || !bytes.Equal(sa, sc) {
		t.Fatalf("nodes' states differ:\na %s\nb %s\nc %s", sa, sb, sc)
	}
	// A deletion on a reaches b and c.
	req, _ := http.NewRequest("DELETE", a.base+"/v1/boards/"+id+"?token="+tok, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, n := range []*testNode{b, c} {
		if code, _ := n.get("/v1/boards/" + id + "?token=" + tok); code != 404 {
			t.Fatalf("board still known on a node after its deletion: %d", code)
		}
	}
}
