package node_test

import (
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
)

// TestHeldChangesReachClientsOnceApplied: two editors send changes that
// wait for the owner's next op, one deleting a note (Mallory's), one
// labelling it (Pat's). No client gets either while it is held: not live,
// not by a join's snapshot. The owner removes Mallory, then edits: the
// node refuses Mallory's change when it could apply and applies Pat's,
// which then reaches every client, the one that was offline meanwhile
// included. No client ends with the note deleted. Before, every client
// got both while held and released them itself, the owner's own page at
// its own edit: the note was gone from every view while the board kept
// it.
func TestHeldChangesReachClientsOnceApplied(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "held", "access": "members"}))
	b := "/v1/boards/" + board
	people := []string{"mallory@example.com", "pat@example.com", "wes@example.com", "olga@example.com", "nina@example.com"}
	for _, who := range people {
		e.must(201, "POST", b+"/invites", owner, map[string]any{"email": who, "role": "editor"})
	}
	invites := e.deliver()
	sess := map[string]string{}
	for _, who := range people {
		sess[who] = e.accept(linkIn(t, to(invites, who)[0], "/v1/invites/"))
	}

	const ownerRep, malRep, patRep crdt.ReplicaID = 0x0a01, 0x0a02, 0x0a05
	oc := e.dial(board, owner, ownerRep)
	note := newID("keep me")
	mustEdit(t, oc, e.clk.Now(), noteTx(note, "Keep"))
	var at uint64
	oc.Read(func(d *crdt.Doc) { at = d.VersionOf(ownerRep) })

	wc := e.dial(board, sess["wes@example.com"], 0x0a03)   // connected all along
	off := e.dial(board, sess["olga@example.com"], 0x0a04) // offline when they apply
	mc := e.dial(board, sess["mallory@example.com"], malRep)
	pc := e.dial(board, sess["pat@example.com"], patRep)
	ts := crdt.MakeTimestamp(uint64(e.clk.Now().UnixMilli()), 0)
	waitsForOwner := crdt.Op{Type: crdt.OpInsertText, Element: note, Key: "text", Text: "x", Left: crdt.OpID{Replica: ownerRep, Counter: at + 1}}
	send := func(c *client.Client, ch crdt.Change) {
		t.Helper()
		seq, err := c.Send(ctx10(t), []crdt.Change{ch})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitAck(ctx10(t), seq); err != nil {
			t.Fatalf("change of %v: %v", ch.Replica, err)
		}
	}
	send(mc, crdt.Change{Replica: malRep, Start: 1, Time: ts, Ops: []crdt.Op{waitsForOwner, {Type: crdt.OpDelete, Element: note, Deleted: true}}})
	send(pc, crdt.Change{Replica: patRep, Start: 1, Time: ts + 1, Ops: []crdt.Op{waitsForOwner, {Type: crdt.OpSet, Element: note, Key: "label", Value: crdt.String("pat")}}})

	// Wes's edit goes out after the two: a client that has it would have
	// had them before, had they been sent.
	marker := newID("marker")
	mustEdit(t, wc, e.clk.Now(), noteTx(marker, "after"))
	nc := e.dial(board, sess["nina@example.com"], 0x0a06) // joins while they are held
	noneHeld := func(name string, c *client.Client) {
		t.Helper()
		if err := c.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return !d.IsDeleted(marker) && d.Len() >= 2 }); err != nil {
			t.Fatalf("%s never got Wes's edit: %v", name, err)
		}
		c.Read(func(d *crdt.Doc) {
			if d.Held() != 0 || d.VersionOf(malRep) != 0 || d.VersionOf(patRep) != 0 {
				t.Fatalf("%s got a held change: %d held, Mallory's replica at %d, Pat's at %d", name, d.Held(), d.VersionOf(malRep), d.VersionOf(patRep))
			}
		})
	}
	noneHeld("the owner", oc)
	noneHeld("Olga", off)
	noneHeld("Nina, who joined", nc)
	off.CloseNow()

	e.must(204, "DELETE", b+"/members/"+e.userID(sess["mallory@example.com"]), owner, nil)
	select {
	case <-mc.Done():
	case <-ctx10(t).Done():
		t.Fatal("the removed editor's connection stayed open")
	}
	mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Set(note, "color", crdt.String("yellow")) })

	settled := func(d *crdt.Doc) bool {
		c, ok1 := d.Get(note, "color")
		l, ok2 := d.Get(note, "label")
		return ok1 && ok2 && c.Equal(crdt.String("yellow")) && l.Equal(crdt.String("pat"))
	}
	check := func(name string, c *client.Client) {
		t.Helper()
		if err := c.WaitDoc(ctx10(t), settled); err != nil {
			t.Fatalf("%s never got the owner's edit and Pat's released change: %v", name, err)
		}
		c.Read(func(d *crdt.Doc) {
			if d.IsDeleted(note) || d.Held() != 0 || d.VersionOf(malRep) != 0 {
				t.Fatalf("%s: note deleted %v, %d held, Mallory's replica at %d; want the board's state", name, d.IsDeleted(note), d.Held(), d.VersionOf(malRep))
			}
		})
	}
	check("the owner", oc)
	check("Wes", wc)
	check("Nina", nc)
	if err := off.Reconnect(ctx10(t)); err != nil {
		t.Fatal(err)
	}
	check("Olga, back", off)
}
