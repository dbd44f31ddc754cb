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

// caughtUp reads a joined session's welcome and catch-up up to "synced",
// and returns the welcome and the doc they make (a snapshot, then the
// changes after it; nil without a snapshot).
func caughtUp(t *testing.T, s *room.Session) (protocol.Welcome, *crdt.Doc) {
	t.Helper()
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
		case msg.Binary && msg.Data[0] == protocol.TagOpsOut && d != nil:
			for _, c := range opsOf(t, msg) {
				if _, _, err := d.Apply(c); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return wl, d
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
		wl, d := caughtUp(t, s)
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

// TestJoinsOfABoardHoldingAChange: a board holds a change for good (an
// editor's, waiting for an op its owner never makes). Its stored
// snapshots hold it too, so joins do not get them: a client gets a change
// only once it applies. Each first visit, at one version or after each
// change, still ends with what the board applied and nothing held, and
// once the board's whole-board budget is spent the visits share the last
// fresh snapshot and the changes after it instead of encoding the board
// each (a loop of visits to such a board was a whole-board encoding each).
func TestJoinsOfABoardHoldingAChange(t *testing.T) {
	var encodes atomic.Int64
	cfg := room.Config{SnapshotEvery: 5, Store: storage.NewMemory(storage.MemoryOptions{}),
		WholeRead: func(_ storage.BoardID, read func() int) bool {
			// Every encoding asks the budget, which is spent after one (a
			// join over it made one anyway).
			if encodes.Add(1) > 1 {
				return false
			}
			read()
			return true
		}}
	m := newManager(t, cfg)
	r := open(t, m)
	w := join(t, r, "w", 1, room.RoleEditor, 1000)
	ed := join(t, r, "ed", 0xe1, room.RoleEditor, 1000)
	a := newAuthor(1)
	seq := uint64(0)
	edit := func(i int) {
		seq++
		if err := r.Submit(context.Background(), w, seq, []crdt.Change{a.note(t, i, "n")}); err != nil {
			t.Fatal(err)
		}
		expectAck(t, w, seq)
	}
	edit(1)
	if ack, e := submitOne(t, r, ed, 1, lateDelete(0xe1, 1, 1000, el(1), crdt.MakeTimestamp(1_700_000_000_100, 0))); e != nil || ack.Held != 1 {
		t.Fatalf("the change waiting for good: %+v %+v, want held", ack, e)
	}
	for i := 2; i <= 6; i++ { // a snapshot is stored, holding it
		edit(i)
	}
	applied := func() []byte {
		var s []byte
		r.Query(context.Background(), func(d *crdt.Doc) { s = d.SnapshotRawApplied() })
		return s
	}
	visit := func(n int) {
		t.Helper()
		s := room.NewSession("v", crdt.ReplicaID(100+n), protocol.User{ID: "v", Role: room.RoleViewer}, protocol.FormatBinary, 1000)
		if err := r.Join(context.Background(), s, nil); err != nil {
			t.Fatal(err)
		}
		_, d := caughtUp(t, s)
		if d == nil || d.Held() != 0 || d.IsDeleted(el(1)) || string(d.SnapshotRawApplied()) != string(applied()) {
			t.Fatalf("visit %d: not the board's applied state (doc %v, held %d)", n, d != nil, d.Held())
		}
		r.Leave(s)
	}
	for n := range 2 {
		visit(n)
	}
	for i := 7; i <= 14; i++ { // more stored snapshots, all holding it
		edit(i)
		visit(i)
	}
	if got := encodes.Load(); got != 1 {
		t.Errorf("the visits asked for %d whole-board encodings, want 1", got)
	}
}
