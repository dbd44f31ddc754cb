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

// A first visit right after a snapshot was stored (nothing logged since:
// the join reads no tail) gets that snapshot alone; one change later, the
// next gets it and that change, and both end with the room's state.
func TestJoinTailEmptyThenOne(t *testing.T) {
	m := newManager(t, room.Config{SnapshotEvery: 5})
	r := open(t, m)
	w := join(t, r, "w", 1, room.RoleEditor, 1000)
	a := newAuthor(1)
	submit := func(i int) {
		if err := r.Submit(context.Background(), w, uint64(i), []crdt.Change{a.note(t, i, "n")}); err != nil {
			t.Fatal(err)
		}
		expectAck(t, w, uint64(i))
	}
	visit := func(name string, wantChanges int) {
		t.Helper()
		s := room.NewSession(name, 2, protocol.User{ID: "u-" + name, Role: room.RoleEditor}, protocol.FormatBinary, 1000)
		if err := r.Join(context.Background(), s, nil); err != nil {
			t.Fatal(err)
		}
		defer r.Leave(s)
		welcome, _ := readUntil(t, s, protocol.TypeWelcome)
		var wl protocol.Welcome
		json.Unmarshal(welcome.Data, &wl)
		_, msgs := readUntil(t, s, protocol.TypeSynced)
		var d *crdt.Doc
		n := 0
		for _, msg := range msgs {
			switch {
			case msg.Binary && msg.Data[0] == protocol.TagSnapshot:
				var err error
				if d, err = crdt.LoadSnapshot(msg.Data[1:]); err != nil {
					t.Fatal(err)
				}
			case msg.Binary && msg.Data[0] == protocol.TagOpsOut:
				for _, c := range opsOf(t, msg) {
					if d == nil {
						t.Fatal("ops before the snapshot")
					}
					if _, _, err := d.Apply(c); err != nil {
						t.Fatal(err)
					}
					n++
				}
			}
		}
		if wl.Catchup != "snapshot" || d == nil || wl.Changes != wantChanges || n != wantChanges {
			t.Fatalf("%s: catch-up %q, welcome says %d changes, got %d; want the stored snapshot and %d", name, wl.Catchup, wl.Changes, n, wantChanges)
		}
		if !bytes.Equal(d.Snapshot(), snapshotOf(t, r)) {
			t.Fatalf("%s: the client's doc is not the room's after catch-up", name)
		}
	}
	for i := 1; i <= 5; i++ {
		submit(i) // the fifth stores a snapshot
	}
	visit("a", 0)
	submit(6)
	visit("b", 1)
}
