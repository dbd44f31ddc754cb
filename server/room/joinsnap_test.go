package room_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// A new client on a board with a stored snapshot gets that snapshot plus
// the log after it (no fresh encoding), and ends with the room's state —
// even when it had part of the tail before (its doc is replaced).
func TestJoinUsesStoredSnapshotAndTail(t *testing.T) {
	m := newManager(t, room.Config{SnapshotEvery: 5})
	r := open(t, m)
	w := join(t, r, "w", 1, room.RoleEditor, 1000)
	a := newAuthor(1)
	var made []crdt.Change
	for i := 1; i <= 7; i++ {
		c := a.note(t, i, "n")
		made = append(made, c)
		if err := r.Submit(context.Background(), w, uint64(i), []crdt.Change{c}); err != nil {
			t.Fatal(err)
		}
		expectAck(t, w, uint64(i))
	}
	want := snapshotOf(t, r)
	for _, have := range []crdt.VersionVector{nil, {1: made[5].End()}} {
		s := room.NewSession("new", 2, protocol.User{ID: "u2", Role: room.RoleEditor}, protocol.FormatBinary, 1000)
		if err := r.Join(context.Background(), s, have); err != nil {
			t.Fatal(err)
		}
		welcome, _ := readUntil(t, s, protocol.TypeWelcome)
		var wl protocol.Welcome
		json.Unmarshal(welcome.Data, &wl)
		_, msgs := readUntil(t, s, protocol.TypeSynced)
		var d *crdt.Doc
		var ops []crdt.Change
		for _, msg := range msgs {
			switch {
			case msg.Binary && msg.Data[0] == protocol.TagSnapshot:
				var err error
				if d, err = crdt.LoadSnapshot(msg.Data[1:]); err != nil {
					t.Fatal(err)
				}
			case msg.Binary && msg.Data[0] == protocol.TagOpsOut:
				ops = append(ops, opsOf(t, msg)...)
			}
		}
		if have == nil && (wl.Catchup != "snapshot" || wl.Changes != 2 || d == nil) {
			t.Fatalf("catch-up %q with %d changes, want the stored snapshot (after 5) and a tail of 2", wl.Catchup, wl.Changes)
		}
		if d == nil {
			// A client a little behind gets ops on top of what it had.
			d = crdt.NewDoc()
			for _, c := range made[:6] {
				d.Apply(c)
			}
		}
		for _, c := range ops {
			if _, _, err := d.Apply(c); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(d.Snapshot(), want) {
			t.Fatalf("client with version %v diverged after catch-up (%s)", have, wl.Catchup)
		}
		r.Leave(s)
	}
}
