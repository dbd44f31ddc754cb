package node_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// A guest (no token, public board) gets a token in its welcome; with it a
// reconnect is the same user and keeps its replica id. Without it, the
// replica belongs to someone else.
func TestGuestKeepsReplica(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"guests"}`)
	u := tn.wsURL(b.Board.ID, "")
	ctx := ctx10(t)
	doc := crdt.NewDoc()
	g, err := client.Dial(ctx, client.Options{URL: u, Replica: 41, Name: "Gus", Doc: doc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.CloseNow)
	w := g.Welcome()
	if w.Token == "" || g.Token() != w.Token {
		t.Fatalf("guest welcome token %q, client token %q", w.Token, g.Token())
	}
	if w.User.Role != "editor" || w.User.Name != "Gus" {
		t.Fatalf("guest user %+v", w.User)
	}
	seq, err := g.Edit(ctx, 1000, func(tx *crdt.Tx) error {
		if err := tx.Create(elem(1), "note"); err != nil {
			return err
		}
		return tx.InsertText(elem(1), "text", 0, "guest note")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	g.CloseNow()
	// Offline, one more edit; the client's own reconnect must come back
	// as the same guest.
	seq, err = g.Edit(ctx, 2000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, "my ") })
	if err == nil {
		t.Fatal("edit on a closed connection reported no error")
	}
	if err := g.Reconnect(ctx); err != nil {
		t.Fatalf("guest reconnect: %v", err)
	}
	if got := g.Welcome().User.ID; got != w.User.ID {
		t.Fatalf("reconnected as %q, want %q", got, w.User.ID)
	}
	waitClient(t, g, func() bool { return g.Pending() == 0 })
	if !bytes.Equal(tn.state(b.Board.ID, b.Token), clientJSON(t, g)) {
		t.Fatal("node state differs from the guest's")
	}
	// Another visitor without the token cannot take the replica.
	r := rawOpen(t, u, 41)
	r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: 41, Version: crdt.VersionVector{}})
	r.expectClose(protocol.CloseReplica)
	// A guest token is for its board only.
	other := tn.createBoard(`{"name":"other"}`)
	_, resp, err := wsDial(t, tn.wsURL(other.Board.ID, w.Token), nil, protocol.Subprotocol)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("guest token on another board: %v (%s)", err, statusOf(resp))
	}
}

// The client library reports a refused batch from WaitAck, and a batch
// partly accepted says how much was.
func TestRefusals(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"refusals"}`)
	ctx := ctx10(t)
	owner := dial(t, tn.wsURL(b.Board.ID, b.Token), 1)
	seq, err := owner.Edit(ctx, 1000, func(tx *crdt.Tx) error { return tx.Create(elem(1), "note") })
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}

	viewer := dial(t, tn.wsURL(b.Board.ID, tokenOf(t, b.Links["viewer"])), 2)
	if w := viewer.Welcome(); w.User.Role != "viewer" {
		t.Fatalf("viewer link gave role %q", w.User.Role)
	}
	seq, err = viewer.Edit(ctx, 2000, func(tx *crdt.Tx) error { return tx.Set(elem(1), "x", crdt.Number(1)) })
	if err != nil {
		t.Fatal(err)
	}
	err = viewer.WaitAck(ctx, seq)
	var re *client.RefusedError
	if !errors.As(err, &re) || re.Frame.Code != protocol.CodeForbidden || re.Frame.Seq != seq {
		t.Fatalf("viewer's edit: WaitAck = %v, want a forbidden refusal of batch %d", err, seq)
	}
	if n := viewer.Pending(); n != 0 {
		t.Fatalf("refused batch still pending (%d)", n)
	}

	// A batch whose second change is refused: the first is accepted and
	// durable, the error says so, and no ack follows.
	before := tn.state(b.Board.ID, b.Token)
	raw := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 3, nil)
	good := change(3, 1, setOp(elem(1), "x", crdt.Number(7)))
	bad := change(3, 2, setOp(elem(1), "y", crdt.String("not a number")))
	also := change(3, 3, setOp(elem(1), "color", crdt.String("#ff0000")))
	s := raw.send(good, bad, also)
	e := raw.expectError(protocol.CodeSchema)
	if e.Seq != s || e.Accepted != 1 {
		t.Fatalf("refusal %+v, want seq %d with 1 accepted", e, s)
	}
	raw.ping() // no ack came before the pong
	after := tn.state(b.Board.ID, b.Token)
	if bytes.Equal(before, after) {
		t.Fatal("the accepted change is not in the state")
	}
	if !bytes.Contains(after, []byte(`"x":7`)) || bytes.Contains(after, []byte("#ff0000")) {
		t.Fatalf("state after a partial refusal: %s", after)
	}
	if recs := checkOpsOnce(t, tn, b.Board.ID, b.Token); recs[3] != 1 {
		t.Fatalf("replica 3 has %d records, want 1", recs[3])
	}
	// The rest, sent again without the bad change, goes through.
	fixed := change(3, 2, setOp(elem(1), "color", crdt.String("#ff0000")))
	if ack := raw.expectAck(raw.send(good, fixed)); ack.Duplicate != 1 || ack.Applied != 1 {
		t.Fatalf("resend: %+v", ack)
	}
	// Votes are the sender's own.
	vote := change(3, 3, crdt.Op{Type: crdt.OpVote, Element: elem(1), Key: "dot", Voter: "someone-else", Value: crdt.Number(1)})
	raw.send(vote)
	raw.expectError(protocol.CodeForbidden)
}

// A connection that never says hello is closed with 4002.
func TestHelloTimeout(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.Limits.HelloTimeout = 100 * time.Millisecond })
	b := tn.createBoard(`{"name":"silent"}`)
	r := rawOpen(t, tn.wsURL(b.Board.ID, b.Token), 5)
	r.expectClose(protocol.CloseIdle)
}

// The node is down when the client tries to reconnect: Reconnect fails,
// the outbox is kept, and a later Reconnect (node back on the same address
// and data) sends it.
func TestReconnectWhileNodeDown(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, func(c *node.Config) { c.DataDir = dir })
	addr := strings.TrimPrefix(tn.base, "http://")
	b := tn.createBoard(`{"name":"down"}`)
	ctx := ctx10(t)
	c := dial(t, tn.wsURL(b.Board.ID, b.Token), 1)
	seq, err := c.Edit(ctx, 1000, func(tx *crdt.Tx) error { return tx.Create(elem(1), "note") })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	if err := tn.stop(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	// Offline edit: the write fails, the batch waits in the outbox.
	if _, err := c.Edit(ctx, 2000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, "kept") }); err == nil {
		t.Fatal("edit with the node down reported no error")
	}
	reconnect := func() error {
		t.Helper()
		res := make(chan error, 1)
		go func() { res <- c.Reconnect(ctx) }()
		select {
		case err := <-res:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("Reconnect hangs")
			return nil
		}
	}
	if err := reconnect(); err == nil {
		t.Fatal("Reconnect with the node down succeeded")
	}
	if n := c.Pending(); n != 1 {
		t.Fatalf("%d batches pending after a failed reconnect, want 1", n)
	}
	tn2 := startNode(t, func(cfg *node.Config) { cfg.DataDir, cfg.Addr = dir, addr })
	if err := reconnect(); err != nil {
		t.Fatalf("Reconnect with the node back: %v", err)
	}
	waitClient(t, c, func() bool { return c.Pending() == 0 })
	if got := tn2.state(b.Board.ID, b.Token); !bytes.Equal(got, clientJSON(t, c)) || !bytes.Contains(got, []byte(`"kept"`)) {
		t.Fatalf("state after reconnect: %s", got)
	}
}

// A client that was away long enough to get a snapshot keeps the edits it
// made offline: they are in its doc after the catch-up, and sent.
func TestSnapshotCatchupKeepsOfflineEdits(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.Room.SnapshotCatchup = 5 })
	b := tn.createBoard(`{"name":"long away"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	ctx := ctx10(t)
	a := dial(t, u, 1)
	away := dial(t, u, 2)
	seq, _ := a.Edit(ctx, 1000, func(tx *crdt.Tx) error {
		if err := tx.Create(elem(1), "note"); err != nil {
			return err
		}
		return tx.InsertText(elem(1), "text", 0, "shared")
	})
	if err := a.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	waitText(t, away, elem(1), "shared")
	away.CloseNow()
	if _, err := away.Edit(ctx, 1500, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, "offline ") }); err == nil {
		t.Fatal("edit while closed reported no error")
	}
	for i := range 10 {
		seq, _ := a.Edit(ctx, int64(2000+i), func(tx *crdt.Tx) error {
			return tx.Set(elem(1), "x", crdt.Number(float64(i)))
		})
		if err := a.WaitAck(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := away.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if w := away.Welcome(); w.Catchup != "snapshot" {
		t.Fatalf("catch-up %q, want a snapshot (10 changes behind, limit 5)", w.Catchup)
	}
	waitClient(t, away, func() bool { return away.Pending() == 0 })
	var va crdt.VersionVector
	away.Read(func(d *crdt.Doc) { va = d.Version() })
	waitVersion(t, a, va)
	waitText(t, a, elem(1), "offline shared")
	waitText(t, away, elem(1), "offline shared")
	if !bytes.Equal(snapshotOf(a), snapshotOf(away)) {
		t.Fatal("clients diverged")
	}
}
