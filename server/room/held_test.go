package room_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// pebbleStore opens a Pebble store in a temporary directory, closed at the
// end (after the managers, registered later).
func pebbleStore(t testing.TB) *storage.Pebble {
	t.Helper()
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sessionOf joins a session of user to r under replica rep.
func sessionOf(t testing.TB, r *room.Room, user string, rep crdt.ReplicaID) *room.Session {
	t.Helper()
	s := room.NewSession(fmt.Sprintf("%s-%v", user, rep), rep, protocol.User{ID: user, Name: user, Role: room.RoleEditor}, protocol.FormatBinary, 1024)
	if err := r.Join(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
	readUntil(t, s, protocol.TypeSynced)
	return s
}

// submitOne submits one change as batch seq and returns its ack or error.
func submitOne(t testing.TB, r *room.Room, s *room.Session, seq uint64, c crdt.Change) (*protocol.Ack, *protocol.Error) {
	t.Helper()
	if err := r.Submit(context.Background(), s, seq, []crdt.Change{c}); err != nil {
		t.Fatal(err)
	}
	for {
		m := next(t, s)
		switch frameType(m) {
		case protocol.TypeAck:
			var a protocol.Ack
			json.Unmarshal(m.Data, &a)
			if a.Seq == seq {
				return &a, nil
			}
		case protocol.TypeError:
			var e protocol.Error
			json.Unmarshal(m.Data, &e)
			if e.Seq == seq {
				return nil, &e
			}
		}
	}
}

// heldChange is a change of rep at counter start (>1, so it waits for
// counter 1, which never comes) carrying n bytes.
func heldChange(rep crdt.ReplicaID, start uint64, n int) crdt.Change {
	return crdt.Change{Replica: rep, Start: start, Time: crdt.MakeTimestamp(1_750_000_000_000+start, 0),
		Ops: []crdt.Op{{Type: crdt.OpSet, Element: el(1), Key: "junk", Value: crdt.String(strings.Repeat("j", n))}}}
}

func lastSeqOf(t testing.TB, st storage.Store) uint64 {
	t.Helper()
	seq, err := st.LastSeq(context.Background(), board)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestHeldLimitsPerReplicaUserBoard: held changes are refused with
// rate_limited, and not stored, past a replica's share, a user's share over
// its replicas, and the board's bytes.
func TestHeldLimitsPerReplicaUserBoard(t *testing.T) {
	st := pebbleStore(t)
	one := crdt.HeldSize(&crdt.Change{Ops: heldChange(1, 2, 4000).Ops})
	cfg := room.Config{Store: st, MaxHeldBytes: 10 * one, MaxHeldReplicaBytes: 3 * one}
	m := newManager(t, cfg)
	r := open(t, m)
	seq := uint64(0)
	// send returns "" when the change is held, else the refusal's code.
	send := func(s *room.Session, start uint64) protocol.Code {
		t.Helper()
		seq++
		before := lastSeqOf(t, st)
		ack, e := submitOne(t, r, s, seq, heldChange(s.Replica, start, 4000))
		if e != nil {
			if after := lastSeqOf(t, st); after != before {
				t.Fatalf("refused change stored (log %d -> %d)", before, after)
			}
			if e.Accepted != 0 || !strings.Contains(e.Message, "waiting for dependencies") {
				t.Fatalf("refusal %+v", e)
			}
			return e.Code
		}
		if ack.Held != 1 {
			t.Fatalf("ack %+v, want held", ack)
		}
		return ""
	}
	// One replica: three, then refused.
	a1 := sessionOf(t, r, "ann", 0xa1)
	for k := uint64(2); k < 5; k++ {
		if code := send(a1, k); code != "" {
			t.Fatalf("held change %d of a replica refused: %s", k, code)
		}
	}
	if code := send(a1, 5); code != protocol.CodeRateLimited {
		t.Fatalf("fourth held change of one replica: %q, want rate_limited", code)
	}
	// The same user on a new replica: its share is spent.
	a2 := sessionOf(t, r, "ann", 0xa2)
	if code := send(a2, 2); code != protocol.CodeRateLimited {
		t.Fatalf("same user, other replica: %q, want rate_limited", code)
	}
	// Other users fill the board: 10 in all.
	held := 3
	for i := 0; held < 10; i++ {
		s := sessionOf(t, r, fmt.Sprintf("u%d", i), crdt.ReplicaID(0xb0+i))
		for k := uint64(2); k < 5 && held < 10; k++ {
			if code := send(s, k); code != "" {
				t.Fatalf("user %d, change %d: %s (board holds %d)", i, k, code, held)
			}
			held++
		}
	}
	if code := send(sessionOf(t, r, "late", 0xcc), 2); code != protocol.CodeRateLimited {
		t.Fatalf("over the board's bytes: %q, want rate_limited", code)
	}
	var bytes, n int
	r.Query(context.Background(), func(d *crdt.Doc) { bytes, n = d.HeldBytes(), d.Held() })
	if n != 10 || bytes > cfg.MaxHeldBytes {
		t.Fatalf("room holds %d changes, %d bytes; want 10 within %d", n, bytes, cfg.MaxHeldBytes)
	}
	// Once a dependency arrives the user's share is free again.
	if ack, e := submitOne(t, r, a1, 100, crdt.Change{Replica: 0xa1, Start: 1, Time: crdt.MakeTimestamp(1_750_000_000_000, 0),
		Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(1), Key: "note"}}}); e != nil || ack.Applied != 1 {
		t.Fatalf("dependency: %+v %+v", ack, e)
	}
	if code := send(a2, 2); code != "" {
		t.Fatalf("after the release: %q, want held", code)
	}
}

// legacyLog stores n held records of replicas 0x100.. the way a node
// without held limits did, and returns their count.
func legacyLog(t testing.TB, st storage.Store, n, size int) {
	t.Helper()
	var recs []storage.Record
	for i := range n {
		c := heldChange(crdt.ReplicaID(0x100+i%7), uint64(2+i/7), size)
		recs = append(recs, storage.Record{Replica: uint64(c.Replica), Start: c.Start, End: c.End(), Accepted: 1, Data: c.AppendBinary(nil)})
	}
	if err := st.AppendOps(context.Background(), board, recs); err != nil {
		t.Fatal(err)
	}
}

// TestHeldLoadBounded: a log (or a snapshot) holding more held changes than
// the limits, left by an older node, loads within them.
func TestHeldLoadBounded(t *testing.T) {
	for _, snap := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			st := pebbleStore(t)
			legacyLog(t, st, 200, 8000)
			if snap {
				d := crdt.NewDoc()
				st.ScanOps(context.Background(), board, 1, func(rec storage.Record) error {
					c, err := crdt.DecodeChange(rec.Data)
					if err != nil {
						t.Fatal(err)
					}
					d.Apply(c)
					return nil
				})
				if d.Held() != 200 {
					t.Fatalf("legacy doc holds %d", d.Held())
				}
				if err := st.PutSnapshot(context.Background(), board, 200, d.SnapshotRaw()); err != nil {
					t.Fatal(err)
				}
			}
			cfg := room.Config{Store: st, MaxHeldBytes: 100 << 10, MaxHeldReplicaBytes: 50 << 10, MaxHeld: 50}
			m := newManager(t, cfg)
			r := open(t, m)
			var n, bytes int
			r.Query(context.Background(), func(d *crdt.Doc) { n, bytes = d.Held(), d.HeldBytes() })
			if n == 0 || n > cfg.MaxHeld || bytes > cfg.MaxHeldBytes {
				t.Fatalf("loaded %d held changes, %d bytes; limits %d, %d", n, bytes, cfg.MaxHeld, cfg.MaxHeldBytes)
			}
			// The board works, and it refuses more held changes.
			s := sessionOf(t, r, "ann", 0xa1)
			if ack, e := submitOne(t, r, s, 1, crdt.Change{Replica: 0xa1, Start: 1, Time: crdt.MakeTimestamp(1_750_000_000_000, 0),
				Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(2), Key: "note"}}}); e != nil || ack.Applied != 1 {
				t.Fatalf("edit: %+v %+v", ack, e)
			}
			if _, e := submitOne(t, r, s, 2, heldChange(0xa1, 5, 8000)); e == nil || e.Code != protocol.CodeRateLimited {
				t.Fatalf("held change on a full board: %+v, want rate_limited", e)
			}
		})
	}
}

// TestHeldFromOtherNodesBounded: a node keeps and stores held changes from
// other nodes only within its own limits.
func TestHeldFromOtherNodesBounded(t *testing.T) {
	hub := bus.NewHub()
	st1, st2 := pebbleStore(t), pebbleStore(t)
	m1 := newManager(t, room.Config{Node: "n1", Bus: hub.Node("n1"), Store: st1})
	small := room.Config{Node: "n2", Bus: hub.Node("n2"), Store: st2, MaxHeldBytes: 40 << 10, MaxHeldReplicaBytes: 40 << 10}
	m2 := newManager(t, small)
	r1, r2 := open(t, m1), open(t, m2)
	for i := range 4 {
		s := sessionOf(t, r1, fmt.Sprintf("u%d", i), crdt.ReplicaID(0xa0+i))
		for k := uint64(2); k < 6; k++ {
			if ack, e := submitOne(t, r1, s, k, heldChange(s.Replica, k, 8000)); e != nil || ack.Held != 1 {
				t.Fatalf("node 1: %+v %+v", ack, e)
			}
		}
	}
	// A last, applied change: once node 2 has it, it has seen the others.
	s := sessionOf(t, r1, "z", 0xff)
	if ack, e := submitOne(t, r1, s, 1, crdt.Change{Replica: 0xff, Start: 1, Time: crdt.MakeTimestamp(1_750_000_000_000, 0),
		Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(3), Key: "note"}}}); e != nil || ack.Applied != 1 {
		t.Fatalf("node 1: %+v %+v", ack, e)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var have uint64
		r2.Query(context.Background(), func(d *crdt.Doc) { have = d.VersionOf(0xff) })
		if have == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node 2 never got the last change")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var n, bytes int
	r2.Query(context.Background(), func(d *crdt.Doc) { n, bytes = d.Held(), d.HeldBytes() })
	if n == 0 || bytes > small.MaxHeldBytes {
		t.Fatalf("node 2 holds %d changes, %d bytes; limit %d", n, bytes, small.MaxHeldBytes)
	}
	stored := 0
	st2.ScanOps(context.Background(), board, 1, func(rec storage.Record) error {
		if rec.Replica != 0xff {
			stored++
		}
		return nil
	})
	if stored != n {
		t.Fatalf("node 2 stored %d held records, holds %d", stored, n)
	}
}

// TestRoomPanicDropsRoom: a panic on the room's goroutine kicks its
// sessions with CloseRetry and forgets the room; the next Open loads the
// board from the store with every acked change.
func TestRoomPanicDropsRoom(t *testing.T) {
	st := pebbleStore(t)
	var arm = make(chan struct{}, 1)
	panics := 0
	cfg := room.Config{Store: st, BeforeHandle: func(storage.BoardID) {
		select {
		case <-arm:
			panic("injected")
		default:
		}
	}}
	cfg.Hooks.Panics = func() { panics++ } // on the room's goroutine, before it is done
	m := newManager(t, cfg)
	r := open(t, m)
	a := newAuthor(1)
	s := join(t, r, "a", 1, room.RoleEditor, 64)
	readUntil(t, s, protocol.TypeSynced)
	if ack, e := submitOne(t, r, s, 1, a.note(t, 1, "acked")); e != nil || ack.Applied != 1 {
		t.Fatalf("%+v %+v", ack, e)
	}
	want := snapshotOf(t, r)
	arm <- struct{}{}
	if err := r.Submit(context.Background(), s, 2, []crdt.Change{a.note(t, 2, "lost")}); err != nil {
		t.Fatal(err)
	}
	<-s.Kicked()
	if code := s.Closing().Code; code != protocol.CloseRetry {
		t.Fatalf("session closed with %d, want %d", code, protocol.CloseRetry)
	}
	if err := r.Query(context.Background(), func(*crdt.Doc) {}); err != room.ErrClosed {
		t.Fatalf("query on the dropped room: %v", err)
	}
	if panics != 1 {
		t.Fatalf("%d panics counted", panics)
	}
	r2 := open(t, m)
	if r2 == r {
		t.Fatal("the dropped room was not forgotten")
	}
	if got := snapshotOf(t, r2); string(got) != string(want) {
		t.Fatal("the reloaded board differs from what was acked")
	}
}

// BenchmarkHeldAtCap fills one board's held changes to the default limits
// (8 MiB, from replicas of 2 MiB each) with 900 KiB changes, the worst a
// client can send, and reports the heap that costs, the slowest ack while
// filling, how long a refusal at the cap takes (ns/op), and how long the
// board takes to load again with the cap filled. Run with
// go test -run '^$' -bench BenchmarkHeldAtCap ./server/room/
func BenchmarkHeldAtCap(b *testing.B) {
	st := pebbleStore(b)
	heap := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	base := heap()
	m := newManager(b, room.Config{Store: st})
	r := open(b, m)
	var slowest time.Duration
	seq, held := uint64(0), 0
	var last *room.Session
	var sessions []*room.Session
	for i := 0; ; i++ {
		s := sessionOf(b, r, fmt.Sprintf("u%d", i), crdt.ReplicaID(0x100+i))
		last = s
		sessions = append(sessions, s)
		mine := 0
		for k := uint64(2); ; k++ {
			seq++
			start := time.Now()
			_, e := submitOne(b, r, s, seq, heldChange(s.Replica, k, 900<<10))
			if d := time.Since(start); d > slowest {
				slowest = d
			}
			if e != nil {
				break
			}
			mine++
			held++
		}
		if mine == 0 {
			break
		}
	}
	var heldBytes int
	r.Query(context.Background(), func(d *crdt.Doc) { heldBytes = d.HeldBytes() })
	// What the sessions were sent is the connections' business, not the
	// board's: drop it before measuring.
	forget := func() {
		pendingMu.Lock()
		for _, s := range sessions {
			s.Drain(nil)
			delete(pending, s)
		}
		pendingMu.Unlock()
	}
	forget()
	filled := heap() - base
	refused := heldChange(last.Replica, 2, 900<<10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq++
		if _, e := submitOne(b, r, last, seq, refused); e == nil || e.Code != protocol.CodeRateLimited {
			b.Fatalf("at the cap: %+v", e)
		}
	}
	b.StopTimer()
	m.Close("reload")
	forget()
	start := time.Now()
	m2 := newManager(b, room.Config{Store: st})
	r2 := open(b, m2)
	load := time.Since(start)
	loaded := heap() - base
	var n int
	r2.Query(context.Background(), func(d *crdt.Doc) { n = d.Held() })
	b.ReportMetric(float64(held), "held")
	b.ReportMetric(float64(heldBytes)/(1<<20), "held-MiB")
	b.ReportMetric(filled, "heap-MB-filled")
	b.ReportMetric(loaded, "heap-MB-reloaded")
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ack-ms")
	b.ReportMetric(float64(load.Microseconds())/1000, "load-ms")
	if n != held {
		b.Fatalf("reloaded %d held, want %d", n, held)
	}
}

// TestHeldOverlapOverLimitsDropped: another node's change that overlaps
// the counters this node has and names an element it lacks is held cut,
// from the first counter the node lacks. Over the held limits it was to be
// dropped, by its own start, under which the doc does not hold it: it
// stayed, past the limits.
func TestHeldOverlapOverLimitsDropped(t *testing.T) {
	at := crdt.MakeTimestamp(1_750_000_000_000, 0)
	first := crdt.Change{Replica: 0x77, Start: 1, Time: at, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(5), Key: "note"}}}
	over := crdt.Change{Replica: 0x77, Start: 1, Time: at, Ops: []crdt.Op{
		{Type: crdt.OpCreate, Element: el(5), Key: "note"},
		{Type: crdt.OpSet, Element: el(6), Key: "x", Value: crdt.Number(1)}, // el(6) never came
	}}
	hub := bus.NewHub()
	m := newManager(t, room.Config{Node: "n2", Bus: hub.Node("n2"), MaxHeldReplicaBytes: 1})
	r := open(t, m)
	// The bus hands the batch to the room's inbox before Publish returns,
	// and the query after it waits for the room to have taken it.
	if err := hub.Node("n9").Publish(board, bus.KindOps, crdt.EncodeBatch([]crdt.Change{first, over})); err != nil {
		t.Fatal(err)
	}
	var n, have int
	if err := r.Query(context.Background(), func(d *crdt.Doc) { n, have = d.Held(), int(d.VersionOf(0x77)) }); err != nil {
		t.Fatal(err)
	}
	if have != 1 {
		t.Fatalf("the first change did not apply (version %d): the test does not test the overlap", have)
	}
	if n != 0 {
		t.Fatalf("another node's change over the limits: %d held, want 0", n)
	}
}
