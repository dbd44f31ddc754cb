package node_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// lateDelete is a change of rep that inserts a character after the
// owner's op next (not made yet) and deletes e: the node holds it until
// the owner's next change, whatever that is.
func lateDelete(rep crdt.ReplicaID, next crdt.OpID, e crdt.ElementID, ts crdt.Timestamp) crdt.Change {
	return crdt.Change{Replica: rep, Start: 1, Time: ts, Ops: []crdt.Op{
		{Type: crdt.OpInsertText, Element: e, Key: "text", Text: "x", Left: next},
		{Type: crdt.OpDelete, Element: e, Deleted: true},
	}}
}

// TestHeldChangeOfRevokedLinkRefused: two connections of an editor link
// each send a change that waits for the owner's next op and deletes a
// note; both are acked as held. One connection closes; the owner deletes
// the link, which closes the other. The owner's next edit releases both,
// and both are refused: the one of the closed connection by the role the
// board now gives the link's holder (the replica's claim names it), the
// other by its session's. Both notes stay.
func TestHeldChangeOfRevokedLinkRefused(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"late deletes"}`)
	id := b.Board.ID
	x, y := newID("x"), newID("y")
	now := crdt.MakeTimestamp(uint64(time.Now().UnixMilli()), 0)
	ow := rawJoin(t, tn.wsURL(id, b.Token), 1, nil)
	ow.expectAck(ow.send(crdt.Change{Replica: 1, Start: 1, Time: now, Ops: []crdt.Op{
		{Type: crdt.OpCreate, Element: x, Key: "note"}, {Type: crdt.OpCreate, Element: y, Key: "note"}}}))
	next := crdt.OpID{Replica: 1, Counter: 3}

	edTok := tokenOf(t, b.Links["editor"])
	gone := rawJoin(t, tn.wsURL(id, edTok), 0xb1, nil)
	if ack := gone.expectAck(gone.send(lateDelete(0xb1, next, y, now+1))); ack.Held != 1 {
		t.Fatalf("ack %+v, want held", ack)
	}
	goneSession := gone.welcome.Session
	gone.c.Close(websocket.StatusNormalClosure, "")
	ow.until(func(typ string, data []byte) bool {
		var l protocol.Leave
		return typ == protocol.TypeLeave && json.Unmarshal(data, &l) == nil && l.Session == goneSession
	})
	ed := rawJoin(t, tn.wsURL(id, edTok), 0xa1, nil)
	if ack := ed.expectAck(ed.send(lateDelete(0xa1, next, x, now+2))); ack.Held != 1 {
		t.Fatalf("ack %+v, want held", ack)
	}

	r := tn.do("GET", "/v1/boards/"+id+"/links", b.Token, "", nil, nil)
	var links struct {
		Links []struct{ ID, Role string }
	}
	if r.status != 200 || json.Unmarshal(r.body, &links) != nil {
		t.Fatalf("links: %d %s", r.status, r.body)
	}
	for _, l := range links.Links {
		if l.Role == "editor" {
			if r := tn.do("DELETE", "/v1/boards/"+id+"/links/"+l.ID, b.Token, "", nil, nil); r.status != 204 {
				t.Fatalf("delete the editor link: %d %s", r.status, r.body)
			}
		}
	}
	ed.expectClose(protocol.CloseForbidden)

	ow.expectAck(ow.send(crdt.Change{Replica: 1, Start: 3, Time: now + 10, Ops: []crdt.Op{
		{Type: crdt.OpSet, Element: x, Key: "color", Value: crdt.String("yellow")}}}))
	c := dial(t, tn.wsURL(id, b.Token), 2)
	c.Read(func(d *crdt.Doc) {
		if d.IsDeleted(x) || d.IsDeleted(y) {
			t.Errorf("the revoked link's held deletes applied: x deleted %v, y deleted %v", d.IsDeleted(x), d.IsDeleted(y))
		}
	})
	if got := tn.metric("corkboard_held_refused_total"); got != "2" {
		t.Errorf("corkboard_held_refused_total %q, want 2", got)
	}
}
