package room_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// TestBoardLogBounded: anyone who may edit a board (a public board's
// visitors, by default) grew its op log, and the node's disk, for as long
// as the rates allowed. With Config.MaxLogBytes, a client's change to a
// board whose log reached it is refused (too_large) and not stored; the
// board reads as before; another node's change is still stored (the
// copies converge); and a room loaded again reads the log's size from the
// store (a real Pebble) and refuses at once.
func TestBoardLogBounded(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.OpenPebble(dir, storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after every manager's cleanup (LIFO)
	const max = 64 << 10
	hub := bus.NewHub()
	m := room.NewManager(room.Config{Node: "n1", Store: st, Bus: hub.Node("n1"), MaxLogBytes: max})
	r := open(t, m)
	s := join(t, r, "a", 7, room.RoleEditor, 1000)
	a := newAuthor(7)
	// Text that does not compress: the store's size is of its tables on
	// disk, compressed.
	const seed = 20261204
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	letters := make([]byte, 4000)
	for i := range letters {
		letters[i] = byte('a' + rng.IntN(26))
	}
	text := string(letters)
	stored := func() (n int, bytes int) {
		t.Helper()
		st.ScanOps(context.Background(), board, 1, func(rec storage.Record) error { n++; bytes += len(rec.Data); return nil })
		return n, bytes
	}
	refusedAt := 0
	for i := 1; i <= 40 && refusedAt == 0; i++ {
		if err := r.Submit(context.Background(), s, uint64(i), []crdt.Change{a.note(t, i, text)}); err != nil {
			t.Fatal(err)
		}
		for refusedAt == 0 {
			msg := next(t, s)
			if typ := frameType(msg); typ == protocol.TypeAck {
				break
			} else if typ == protocol.TypeError {
				var e protocol.Error
				json.Unmarshal(msg.Data, &e)
				if e.Code != protocol.CodeTooLarge {
					t.Fatalf("change %d refused: %s", i, msg.Data)
				}
				refusedAt = i
			}
		}
	}
	n, size := stored()
	if refusedAt == 0 || size < max || size > max+2*len(text) || n != refusedAt-1 {
		t.Fatalf("refused at change %d (0: never in 40) with %d records, %d bytes stored; want the first change past %d bytes refused and not stored", refusedAt, n, size, max)
	}
	// Another node's change is stored whatever the bound.
	b := newAuthor(9)
	if err := hub.Node("n2").Publish(board, bus.KindOps, crdt.EncodeBatch([]crdt.Change{b.note(t, 100, "from n2")})); err != nil {
		t.Fatal(err)
	}
	var has bool
	for !has { // the room applies the bus's message in its own time
		r.Query(context.Background(), func(d *crdt.Doc) { has = d.Kind(el(100)) != "" })
	}
	if n2, _ := stored(); n2 != n+1 {
		t.Fatalf("another node's change: %d records stored, want %d", n2, n+1)
	}
	// Loaded again (its tables on disk): the bound holds at once.
	m.Close("reload")
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	m = newManager(t, room.Config{Store: st, MaxLogBytes: max})
	r = open(t, m)
	s = join(t, r, "a2", 7, room.RoleEditor, 1000)
	if err := r.Submit(context.Background(), s, 1, []crdt.Change{a.note(t, 200, "after the reload")}); err != nil {
		t.Fatal(err)
	}
	msg, _ := readUntil(t, s, protocol.TypeError)
	if !strings.Contains(string(msg.Data), string(protocol.CodeTooLarge)) {
		t.Fatalf("after a reload: %s", msg.Data)
	}
	// Without a bound the same board takes it.
	m.Close("unbounded")
	m = newManager(t, room.Config{Store: st})
	r = open(t, m)
	s = join(t, r, "a3", 7, room.RoleEditor, 1000)
	if err := r.Submit(context.Background(), s, 1, []crdt.Change{a.note(t, 300, "no bound")}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, s, 1)
}

// TestFullLogFreedByRetention: with a retention period, a board whose
// history reached the bound took nothing more for good: no change was
// stored, so no snapshot came, so the old history was never dropped (and
// after a trim the store's estimate still counted it). A change refused
// for a full log now has the room write a snapshot (at most one a
// minute), the retention drop what it may, and the dropped bytes leave
// the count: once the history is old enough, the change is taken.
func TestFullLogFreedByRetention(t *testing.T) {
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	m := newManager(t, room.Config{Store: st, Now: clock, MaxLogBytes: 32 << 10, Retention: time.Hour, SnapshotEvery: 1000})
	r := open(t, m)
	s := join(t, r, "a", 7, room.RoleEditor, 1000)
	a := newAuthor(7)
	a.ms = now.Load()
	rng := rand.New(rand.NewPCG(5, 5))
	t.Logf("seed 5")
	text := func() string {
		b := make([]byte, 4000)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	outcome := func(seq uint64, c crdt.Change) string {
		t.Helper()
		return submitOutcome(t, r, s, seq, c)
	}
	seq, full := uint64(0), false
	for i := 1; i <= 20 && !full; i++ {
		seq++
		c := a.note(t, i, text())
		switch got := outcome(seq, c); got {
		case "ack":
		case string(protocol.CodeTooLarge):
			full = true
		default:
			t.Fatalf("change %d: %s", i, got)
		}
	}
	if !full {
		t.Fatal("the log never reached its bound")
	}
	// Two hours on: the history is past the retention period.
	now.Add((2 * time.Hour).Milliseconds())
	a.ms = now.Load()
	seq++
	if got := outcome(seq, a.note(t, 100, "after the retention")); got != "ack" {
		t.Fatalf("a change once the history is past the retention period: %s", got)
	}
}
