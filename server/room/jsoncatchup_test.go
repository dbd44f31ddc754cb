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

// TestJSONCatchupBounded: a JSON session saying hello with an empty
// version on a board whose log is changes of tiny ops (1.5 MB of log, far
// under the 16 MiB the join reads, but over 20 MB as JSON) gets a
// snapshot once the JSON made passes 16 MiB, the encoding charged to the
// board's whole-board reads; once those are spent, the next such join
// makes no JSON at all. A small catch-up still goes by JSON ops.
func TestJSONCatchupBounded(t *testing.T) {
	const bound = 16 << 20
	var charged, refused atomic.Int64
	spend := func(_ storage.BoardID, read func() int) bool {
		if charged.Load() >= bound/512 {
			refused.Add(1)
			return false
		}
		charged.Add(int64(read()))
		return true
	}
	st := &snapCountStore{Store: pebbleStore(t)}
	m := newManager(t, room.Config{Store: st, WholeRead: spend})
	r := open(t, m)
	w := join(t, r, "w", 1, room.RoleEditor, 4096)
	readUntil(t, w, protocol.TypeSynced)
	a := newAuthor(1)
	seq := uint64(1)
	if err := r.Submit(context.Background(), w, seq, []crdt.Change{a.note(t, 1, "n")}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, w, seq)
	logBytes := 0
	for range 8 {
		c := a.edit(t, func(tx *crdt.Tx) error {
			for i := range 32768 {
				if err := tx.Set(el(1), "x", crdt.Number(float64(i%1000))); err != nil {
					return err
				}
			}
			return nil
		})
		logBytes += len(c.AppendBinary(nil))
		seq++
		if err := r.Submit(context.Background(), w, seq, []crdt.Change{c}); err != nil {
			t.Fatal(err)
		}
		expectAck(t, w, seq)
	}
	if logBytes > 4<<20 {
		t.Fatalf("the log is %d bytes: not a log of tiny ops", logBytes)
	}

	visit := func(name string, have crdt.VersionVector) (protocol.Welcome, int, int) {
		t.Helper()
		s := room.NewSession(name, 9, protocol.User{ID: "u-" + name, Role: room.RoleViewer}, protocol.FormatJSON, 4096)
		if err := r.Join(context.Background(), s, have); err != nil {
			t.Fatal(err)
		}
		defer r.Leave(s)
		welcome, _ := readUntil(t, s, protocol.TypeWelcome)
		var wl protocol.Welcome
		if err := json.Unmarshal(welcome.Data, &wl); err != nil {
			t.Fatal(err)
		}
		_, msgs := readUntil(t, s, protocol.TypeSynced)
		jsonBytes, changes := 0, 0
		for _, msg := range msgs {
			if !msg.Binary && frameType(msg) == protocol.TypeOps {
				jsonBytes += len(msg.Data)
				var ops protocol.OpsJSON
				if err := json.Unmarshal(msg.Data, &ops); err != nil {
					t.Fatalf("%s: catch-up message: %v", name, err)
				}
				changes += len(ops.Changes)
			}
		}
		return wl, jsonBytes, changes
	}

	wl, jsonBytes, _ := visit("j1", nil)
	if wl.Catchup != "snapshot" || jsonBytes > bound {
		t.Fatalf("JSON join over a log of tiny ops: catch-up %q with %d bytes of JSON ops; want a snapshot and at most %d", wl.Catchup, jsonBytes, bound)
	}
	if got := charged.Load(); got < bound/512 {
		t.Fatalf("the JSON the join made was charged %d units of the board's whole-board reads; want at least %d", got, bound/512)
	}
	// With the board's reads spent, a JSON join is refused (the client
	// connects again later): it was sent a fresh snapshot, which a spent
	// budget has the room store uncharged, the whole board written at
	// every 256 KiB of JSON the log grew.
	before, refusedBefore, snapsBefore := charged.Load(), refused.Load(), st.snaps.Load()
	j2 := room.NewSession("j2", 9, protocol.User{ID: "u-j2", Role: room.RoleViewer}, protocol.FormatJSON, 4096)
	if err := r.Join(context.Background(), j2, nil); err == nil {
		t.Fatal("a JSON join with the board's reads spent was taken")
	}
	if charged.Load() != before || refused.Load() == refusedBefore || st.snaps.Load() != snapsBefore {
		t.Fatalf("second JSON join with the board's reads spent: %d units charged, refused %d times, %d snapshots stored; want none charged, a refusal, no snapshot",
			charged.Load()-before, refused.Load()-refusedBefore, st.snaps.Load()-snapsBefore)
	}

	// A reconnect's usual catch-up is not charged, and goes by JSON ops.
	var have crdt.VersionVector
	if err := r.Query(context.Background(), func(d *crdt.Doc) { have = d.Version() }); err != nil {
		t.Fatal(err)
	}
	seq++
	if err := r.Submit(context.Background(), w, seq, []crdt.Change{a.note(t, 2, "<b>&</b>")}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, w, seq)
	wl, _, n := visit("j3", have)
	if wl.Catchup != "ops" || wl.Changes != 1 || n != 1 {
		t.Fatalf("small JSON catch-up: %q, welcome says %d changes, got %d; want ops, 1", wl.Catchup, wl.Changes, n)
	}
}

// snapCountStore counts the snapshots stored.
type snapCountStore struct {
	storage.Store
	snaps atomic.Int64
}

func (s *snapCountStore) PutSnapshot(ctx context.Context, b storage.BoardID, seq uint64, data []byte) error {
	s.snaps.Add(1)
	return s.Store.PutSnapshot(ctx, b, seq, data)
}
