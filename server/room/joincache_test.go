package room_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// countingStore counts the stored snapshots read.
type countingStore struct {
	storage.Store
	reads atomic.Int64
}

func (c *countingStore) LatestSnapshot(ctx context.Context, b storage.BoardID) (uint64, []byte, error) {
	c.reads.Add(1)
	return c.Store.LatestSnapshot(ctx, b)
}

// TestJoinsShareStoredSnapshot: first visits in a loop (reconnecting, at
// one version or after each change) read the stored snapshot from the
// store once, not at every join (17.5 MB for 100,000 elements, in the
// room's goroutine), and every one of them still ends with the board as
// it is. A new stored snapshot is read once again.
func TestJoinsShareStoredSnapshot(t *testing.T) {
	st := &countingStore{Store: storage.NewMemory(storage.MemoryOptions{})}
	m := newManager(t, room.Config{SnapshotEvery: 5, Store: st})
	r := open(t, m)
	w := join(t, r, "w", 1, room.RoleEditor, 1000)
	a := newAuthor(1)
	seq := uint64(0)
	edit := func(i int) {
		seq++
		if err := r.Submit(context.Background(), w, seq, []crdt.Change{a.note(t, i, "n")}); err != nil {
			t.Fatal(err)
		}
		expectAck(t, w, seq)
	}
	atOpen := st.reads.Load() // the room's load
	for i := 1; i <= 6; i++ { // a snapshot stored after the 5th
		edit(i)
	}
	visit := func(n int) {
		t.Helper()
		s := room.NewSession("v", crdt.ReplicaID(100+n), protocol.User{ID: "v", Role: room.RoleViewer}, protocol.FormatBinary, 1000)
		if err := r.Join(context.Background(), s, nil); err != nil {
			t.Fatal(err)
		}
		welcome, _ := readUntil(t, s, protocol.TypeWelcome)
		var wl protocol.Welcome
		if err := json.Unmarshal(welcome.Data, &wl); err != nil {
			t.Fatal(err)
		}
		_, msgs := readUntil(t, s, protocol.TypeSynced)
		var d *crdt.Doc
		for _, msg := range msgs {
			switch {
			case msg.Binary && msg.Data[0] == protocol.TagSnapshot:
				var err error
				if d, err = crdt.LoadSnapshot(msg.Data[1:]); err != nil {
					t.Fatal(err)
				}
			case msg.Binary && msg.Data[0] == protocol.TagOpsOut:
				for _, c := range opsOf(t, msg) {
					if _, _, err := d.Apply(c); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if wl.Catchup != "snapshot" || d == nil || string(d.Snapshot()) != string(snapshotOf(t, r)) {
			t.Fatalf("visit %d: catch-up %q; want the stored snapshot and its tail, bringing the board as it is", n, wl.Catchup)
		}
		r.Leave(s)
	}
	for n := range 3 { // at one version
		visit(n)
	}
	edit(7)
	visit(3) // after a change: the same stored snapshot, a longer tail
	if got := st.reads.Load() - atOpen; got != 1 {
		t.Errorf("4 first visits read the stored snapshot %d times, want once", got)
	}
	for i := 8; i <= 10; i++ { // the next snapshot is stored after the 10th
		edit(i)
	}
	visit(4)
	visit(5)
	if got := st.reads.Load() - atOpen; got != 2 {
		t.Errorf("after a new snapshot, 2 more visits: %d reads in all, want 2", got)
	}
}
