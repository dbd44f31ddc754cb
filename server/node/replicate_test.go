package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// Three nodes on one bus, each with its own Pebble: a board made on one is
// known to all; a node that did not have the board loaded while it was
// edited catches up when it loads it; edits on any node reach clients on
// the others; a deletion reaches every node.
func TestNodesCatchUpAndShareBoards(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{7}, 32) // nodes of a cluster share it
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) { c.NodeID, c.Bus, c.Secret, c.Meta = id, hub.Node(id), secret, mb })
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

// A node cut off from the others while people edit on both sides catches
// up, in both directions, once the cut heals (the periodic catch-up), with
// nothing lost and nothing duplicated; a client that was on the cut node
// resumes on another node from its version, without a snapshot.
func TestPartitionHealsAndClientsMoveNodes(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{9}, 32)
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) {
			c.NodeID, c.Bus, c.Secret, c.Meta = id, hub.Node(id), secret, mb
			c.Room.SyncInterval = 20 * time.Millisecond
		})
	}
	a, b := mk("a"), mk("b")
	board := a.createBoard(`{"name":"partition"}`)
	id, tok := board.Board.ID, board.Token
	ca := dial(t, a.wsURL(id, tok), 1)
	cb := dial(t, b.wsURL(id, tok), 2)
	ctx := ctx10(t)
	note := func(c *client.Client, i int) uint64 {
		seq, err := c.Edit(ctx, 0, func(tx *crdt.Tx) error {
			if err := tx.Create(elem(i), "note"); err != nil {
				return err
			}
			return tx.InsertText(elem(i), "text", 0, fmt.Sprint(i))
		})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	if err := ca.WaitAck(ctx, note(ca, 0)); err != nil {
		t.Fatal(err)
	}
	if err := cb.WaitDoc(ctx, func(d *crdt.Doc) bool { return d.Len() == 1 }); err != nil {
		t.Fatal(err)
	}
	hub.Cut("b", true)
	var sa, sb uint64
	for i := 1; i <= 10; i++ {
		sa = note(ca, i)
		sb = note(cb, 100+i)
	}
	if ca.WaitAck(ctx, sa) != nil || cb.WaitAck(ctx, sb) != nil {
		t.Fatal("acks during the cut")
	}
	var na, nb int
	ca.Read(func(d *crdt.Doc) { na = d.Len() })
	cb.Read(func(d *crdt.Doc) { nb = d.Len() })
	if na != 11 || nb != 11 {
		t.Fatalf("during the cut each side should see only its own notes: a %d, b %d", na, nb)
	}
	hub.Cut("b", false)
	for _, c := range []*client.Client{ca, cb} {
		if err := c.WaitDoc(ctx, func(d *crdt.Doc) bool { return d.Len() == 21 }); err != nil {
			t.Fatalf("after the cut healed: %v", err)
		}
	}
	if !bytes.Equal(snapshotOf(ca), snapshotOf(cb)) {
		t.Fatal("clients diverged after the partition")
	}
	for _, n := range []*testNode{a, b} {
		_, ops := n.ops(id, tok)
		seen := map[crdt.OpID]bool{}
		for _, op := range ops {
			k := crdt.OpID{Replica: op.Replica, Counter: op.Start}
			if seen[k] {
				t.Fatalf("a node stored change %v twice", k)
			}
			seen[k] = true
		}
		if len(ops) != 21 {
			t.Fatalf("a node stores %d changes, want 21", len(ops))
		}
	}
	// The client of b moves to a, a little behind: it resumes with ops.
	cb.CloseNow()
	if err := ca.WaitAck(ctx, note(ca, 50)); err != nil {
		t.Fatal(err)
	}
	var doc *crdt.Doc
	cb.Read(func(d *crdt.Doc) { doc = d })
	moved, err := client.Dial(ctx, client.Options{URL: a.wsURL(id, tok), Replica: 2, Doc: doc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moved.CloseNow)
	if w := moved.Welcome(); w.Catchup != "ops" || w.Changes != 1 {
		t.Fatalf("moved client caught up by %q with %d changes, want ops with 1", w.Catchup, w.Changes)
	}
	if !bytes.Equal(snapshotOf(moved), snapshotOf(ca)) {
		t.Fatal("moved client diverged")
	}
}

// With --ack-replicas 1 an ack means the change is stored on another node
// too; cut off from every other node, a change is stored here but answered
// "unavailable", and resent later it is acked once replicated.
func TestAcksAfterReplication(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{3}, 32)
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) {
			c.NodeID, c.Bus, c.Secret, c.Meta = id, hub.Node(id), secret, mb
			c.Room.AckReplicas = 1
			c.Room.ReplicateTimeout = 300 * time.Millisecond
		})
	}
	a, b := mk("a"), mk("b")
	board := a.createBoard(`{"name":"acks=all"}`)
	id, tok := board.Board.ID, board.Token
	ca := dial(t, a.wsURL(id, tok), 1)
	ctx := ctx10(t)
	seq, err := ca.Edit(ctx, 0, func(tx *crdt.Tx) error { return tx.Create(elem(1), "note") })
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	// Acked: b has it already (it confirmed after storing it).
	if _, ops := b.ops(id, tok); len(ops) != 1 {
		t.Fatalf("node b stores %d changes at the moment of the ack, want 1", len(ops))
	}
	hub.Cut("b", true)
	seq, err = ca.Edit(ctx, 0, func(tx *crdt.Tx) error { return tx.Set(elem(1), "x", crdt.Number(5)) })
	if err != nil {
		t.Fatal(err)
	}
	var refused *client.RefusedError
	if err := ca.WaitAck(ctx, seq); !errors.As(err, &refused) || refused.Frame.Code != protocol.CodeUnavailable {
		t.Fatalf("ack while cut off: %v, want a refusal with code unavailable", err)
	}
	hub.Cut("b", false)
	// The client resends the change it still has.
	_, ops := a.ops(id, tok) // it is stored on a: its latest change
	change := ops[len(ops)-1].Change
	seq, err = ca.Send(ctx, []crdt.Change{change})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitAck(ctx, seq); err != nil {
		t.Fatalf("resend after the cut healed: %v", err)
	}
	if _, ops := b.ops(id, tok); len(ops) != 2 {
		t.Fatalf("node b stores %d changes after the resend, want 2", len(ops))
	}
}

// A replica id claimed on one node is refused to another user on another
// node: claims are copied to every node. A replica that only looked
// claims nothing.
func TestReplicaClaimsAreClusterWide(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{4}, 32)
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) { c.NodeID, c.Bus, c.Secret, c.Meta = id, hub.Node(id), secret, mb })
	}
	a, b := mk("a"), mk("b")
	board := a.createBoard(`{"name":"claims"}`)
	// The owner takes replica 77 on a with its first change.
	mustEdit(t, dial(t, a.wsURL(board.Board.ID, board.Token), 77), time.Now(), noteTx(newID("claim"), "mine"))
	editor := board.Links["editor"]
	tok := editor[strings.Index(editor, "token=")+len("token="):]
	r := rawOpen(t, b.wsURL(board.Board.ID, tok), 77)
	r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: 77, Version: crdt.VersionVector{}})
	r.expectClose(protocol.CloseReplica)
}

// TestLookingClaimsNoReplica: visitors who connect and send no change
// leave no replica claim behind (a claim is a record kept for good and
// copied to every node); the first change claims it.
func TestLookingClaimsNoReplica(t *testing.T) {
	tn := startNode(t, nil)
	board := tn.createBoard(`{"name":"lookers"}`)
	for i := range 20 {
		rawJoin(t, tn.wsURL(board.Board.ID, ""), crdt.ReplicaID(900+i), nil).ping()
	}
	// Anyone may take replica 900 then: nobody claimed it.
	c := dial(t, tn.wsURL(board.Board.ID, board.Token), 900)
	mustEdit(t, c, time.Now(), noteTx(newID("first"), "claims 900"))
	r := rawOpen(t, tn.wsURL(board.Board.ID, ""), 900)
	r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: 900, Version: crdt.VersionVector{}})
	r.expectClose(protocol.CloseReplica)
}

// TestViewerClaimsNoReplica: a viewer who says hello with the replica id
// of someone who has not edited yet (replica ids are shown in presence)
// and sends changes is refused, and claims nothing: that person's first
// edit is taken.
func TestViewerClaimsNoReplica(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"squatters"}`)
	id := b.Board.ID
	now := crdt.MakeTimestamp(uint64(time.Now().UnixMilli()), 0)
	victim := rawJoin(t, tn.wsURL(id, tokenOf(t, b.Links["editor"])), 0x77, nil)
	viewer := rawJoin(t, tn.wsURL(id, tokenOf(t, b.Links["viewer"])), 0x77, nil)
	viewer.send(crdt.Change{Replica: 0x77, Start: 1, Time: now, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: newID("squat"), Key: "note"}}})
	viewer.expectError(protocol.CodeForbidden)
	victim.expectAck(victim.send(crdt.Change{Replica: 0x77, Start: 1, Time: now + 1, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: newID("mine"), Key: "note"}}}))
}
