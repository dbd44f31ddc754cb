package room_test

import (
	"context"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// A conversion admitted on another node (a note turned into a mindmap
// node, its voters' dots moved along) and held here for a missing
// dependency is admitted again when it applies as admit would admit it:
// with its vote moves, which cast other people's dots. Judged without
// them, it was refused as votes cast for someone else, and its replica's
// later changes dropped with it: this node went without a change every
// other node had.
func TestHeldConversionFromAnotherNodeReleased(t *testing.T) {
	hub := bus.NewHub()
	cfg := votingOpen(5)
	cfg.Node, cfg.Bus, cfg.Store = "b", hub.Node("b"), pebbleStore(t)
	cfg.AuthorRole = func(_ context.Context, _ storage.BoardID, rep crdt.ReplicaID) (string, string, bool) {
		if rep == 0xe1 {
			return "ed", room.RoleEditor, true
		}
		return "", "", false
	}
	refused := refusedCounter(&cfg)
	m := newManager(t, cfg)
	r := open(t, m)
	ow := sessionAs(t, r, "ow", 0x01, room.RoleOwner)
	ana := sessionAs(t, r, "ana", 0xa1, room.RoleCommenter)
	ts := crdt.MakeTimestamp(1_750_000_000_000, 0)
	if _, e := submitOne(t, r, ow, 1, crdt.Change{Replica: 0x01, Start: 1, Time: ts, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(1), Key: "note"}}}); e != nil {
		t.Fatal(e.Message)
	}
	if _, e := submitOne(t, r, ana, 1, crdt.Change{Replica: 0xa1, Start: 1, Time: ts + 10, Ops: []crdt.Op{dotVote(el(1), "ana", 3)}}); e != nil {
		t.Fatal(e.Message)
	}
	// Ed's conversion, from node a, after a change of his this node lacks.
	conv := crdt.Change{Replica: 0xe1, Start: 2, Time: ts + 30, Ops: []crdt.Op{
		{Type: crdt.OpDelete, Element: el(1), Deleted: true},
		{Type: crdt.OpCreate, Element: el(2), Key: "mindmap"},
		dotVote(el(1), "ana", 0),
		dotVote(el(2), "ana", 3),
	}}
	dep := crdt.Change{Replica: 0xe1, Start: 1, Time: ts + 20, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(3), Key: "note"}}}
	other := hub.Node("a")
	if err := other.Publish(board, bus.KindOps, crdt.EncodeBatch([]crdt.Change{conv})); err != nil {
		t.Fatal(err)
	}
	if err := other.Publish(board, bus.KindOps, crdt.EncodeBatch([]crdt.Change{dep})); err != nil {
		t.Fatal(err)
	}
	var converted bool
	var held int
	if err := r.Query(context.Background(), func(d *crdt.Doc) {
		converted = d.IsDeleted(el(1)) && d.Kind(el(2)) == "mindmap"
		held = d.Held()
	}); err != nil {
		t.Fatal(err)
	}
	if n := refused(); n != 0 || !converted || held != 0 {
		t.Fatalf("the conversion: %d refused, converted %v, %d held", n, converted, held)
	}
	if got := dotsOn(t, r, "ana"); got != 3 {
		t.Fatalf("ana's dots %v, want her 3, moved", got)
	}
}
