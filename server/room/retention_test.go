package room_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// With a retention period, records older than it are dropped once a
// snapshot covers them; younger ones stay; a client far behind still
// converges (through a snapshot).
func TestRetentionTrimsOldHistory(t *testing.T) {
	st := storage.NewMemory(storage.MemoryOptions{})
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	m := newManager(t, room.Config{Store: st, SnapshotEvery: 5, Retention: time.Hour, Now: clock})
	r := open(t, m)
	s := join(t, r, "a", 7, room.RoleEditor, 1000)
	a := newAuthor(7)
	send := func(seq uint64, c crdt.Change) {
		t.Helper()
		if err := r.Submit(context.Background(), s, seq, []crdt.Change{c}); err != nil {
			t.Fatal(err)
		}
		expectAck(t, s, seq)
	}
	// Five old changes (the fifth triggers a snapshot: nothing is old yet).
	for i := 1; i <= 5; i++ {
		send(uint64(i), a.note(t, i, "old"))
	}
	// Two hours later, five more: the snapshot after them drops the old
	// records, not the young ones.
	now.Add((2 * time.Hour).Milliseconds())
	for i := 6; i <= 10; i++ {
		send(uint64(i), a.note(t, i, "new"))
	}
	// The snapshot and the trim follow the ack: wait until the room is
	// done with the last batch.
	if err := r.Query(context.Background(), func(*crdt.Doc) {}); err != nil {
		t.Fatal(err)
	}
	var first uint64
	st.ScanOps(context.Background(), board, 1, func(rec storage.Record) error {
		if first == 0 {
			first = rec.Seq
		}
		return nil
	})
	if first != 6 {
		t.Fatalf("first retained record = %d, want 6 (the five old ones trimmed)", first)
	}
	// A client that has only the first change catches up by snapshot, since
	// the log no longer reaches back to it.
	late := room.NewSession("late", 8, protocol.User{ID: "user-late", Role: room.RoleEditor}, protocol.FormatBinary, 1000)
	if err := r.Join(context.Background(), late, crdt.VersionVector{7: 1}); err != nil {
		t.Fatal(err)
	}
	_, before := readUntil(t, late, protocol.TypeSynced)
	sawSnapshot := false
	for _, msg := range before {
		if msg.Binary && msg.Data[0] == protocol.TagSnapshot {
			sawSnapshot = true
			d, err := crdt.LoadSnapshot(msg.Data[1:])
			if err != nil {
				t.Fatal(err)
			}
			if d.Len() != 10 {
				t.Fatalf("snapshot holds %d elements, want 10", d.Len())
			}
		}
	}
	if !sawSnapshot {
		t.Fatal("a client behind the retained log got no snapshot")
	}
}
