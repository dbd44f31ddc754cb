package room_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// TestMoveReachBounded: a client change whose moves reach back over more
// of the board's moves than MaxMoveReach is refused (invalid_op) and not
// stored; the reach all clients spend together is a budget per second
// (rate_limited past it, taken again once it refills).
func TestMoveReachBounded(t *testing.T) {
	st := pebbleStore(t)
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	m := newManager(t, room.Config{Store: st, MaxMoveReach: 50, MoveWorkPerSecond: 1, Now: clock})
	r := open(t, m)
	a, b := el(1), el(2)
	move := func(rep crdt.ReplicaID, start uint64, ms uint64, e crdt.ElementID) crdt.Change {
		return crdt.Change{Replica: rep, Start: start, Time: crdt.MakeTimestamp(ms, 0),
			Ops: []crdt.Op{{Type: crdt.OpMove, Element: e, Parent: crdt.Root}}}
	}
	s1 := sessionOf(t, r, "ann", 1)
	seq := uint64(1)
	if _, e := submitOne(t, r, s1, seq, crdt.Change{Replica: 1, Start: 1, Time: crdt.MakeTimestamp(1000, 0),
		Ops: []crdt.Op{{Type: crdt.OpCreate, Element: a, Key: "mindmap"}, {Type: crdt.OpCreate, Element: b, Key: "mindmap"}}}); e != nil {
		t.Fatalf("create: %+v", e)
	}
	// 100 moves of b, at 2000, 2010, … 2990 ms.
	for i := range 100 {
		seq++
		if _, e := submitOne(t, r, s1, seq, move(1, uint64(3+i), 2000+uint64(i)*10, b)); e != nil {
			t.Fatalf("move %d: %+v", i, e)
		}
	}
	s2 := sessionOf(t, r, "bob", 2)
	send := func(start, ms uint64) protocol.Code {
		t.Helper()
		seq++
		before := lastSeqOf(t, st)
		_, e := submitOne(t, r, s2, seq, move(2, start, ms, a))
		if e == nil {
			return ""
		}
		if after := lastSeqOf(t, st); after != before {
			t.Fatalf("refused change stored (log %d -> %d)", before, after)
		}
		return e.Code
	}
	// Before every one of the 100 moves: over the limit.
	if code := send(1, 1995); code != protocol.CodeInvalidOp {
		t.Fatalf("a move reaching over 100 moves: %q, want invalid_op", code)
	}
	// Over 30 moves: within the limit, twice (the burst is 100).
	if code := send(1, 2705); code != "" {
		t.Fatalf("a move reaching over 30 moves: refused %q", code)
	}
	if code := send(2, 2706); code != "" {
		t.Fatalf("a second move reaching over 30 moves: refused %q", code)
	}
	// 40 left: a move over 45 waits for the budget…
	if code := send(3, 2555); code != protocol.CodeRateLimited {
		t.Fatalf("a move over the budget left: %q, want rate_limited", code)
	}
	// …which refills at MoveWorkPerSecond.
	now.Add(int64(10 * time.Second))
	if code := send(3, 2555); code != "" {
		t.Fatalf("the same move once the budget refilled: refused %q", code)
	}
	// A move after every other one reaches nothing: never limited.
	for i := range 5 {
		if code := send(uint64(4+i), 5000+uint64(i)); code != "" {
			t.Fatalf("a recent move %d: refused %q", i, code)
		}
	}
}
