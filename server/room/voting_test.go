package room_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// sessionAs joins a session of user with role to r under replica rep.
func sessionAs(t testing.TB, r *room.Room, user string, rep crdt.ReplicaID, role string) *room.Session {
	t.Helper()
	s := room.NewSession(fmt.Sprintf("%s-%v", user, rep), rep, protocol.User{ID: user, Name: user, Role: role}, protocol.FormatBinary, 4096)
	if err := r.Join(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
	readUntil(t, s, protocol.TypeSynced)
	return s
}

// votingOpen is a room config with an open voting session of dots dots.
func votingOpen(dots int) room.Config {
	return room.Config{Policy: func(context.Context, storage.BoardID) room.Policy {
		return room.Policy{Voting: room.Voting{State: "open", Dots: dots}}
	}}
}

func dotVote(e crdt.ElementID, voter string, dots int) crdt.Op {
	v := crdt.Null()
	if dots != 0 {
		v = crdt.Number(float64(dots))
	}
	return crdt.Op{Type: crdt.OpVote, Element: e, Key: "vote", Voter: voter, Value: v}
}

// dotsOn sums voter's dots over the room's board.
func dotsOn(t testing.TB, r *room.Room, voter string) float64 {
	t.Helper()
	sum := 0.0
	r.Query(context.Background(), func(d *crdt.Doc) {
		for _, id := range d.Elements() {
			for _, v := range d.Votes(id, "vote") {
				if v.Voter == voter {
					n, _ := crdt.Dots(v.Value)
					sum += n
				}
			}
		}
	})
	return sum
}

// TestDotsBudgetWeighsEachOpAsItApplies: the budget weighs each vote op
// against what the change's earlier ops left in its register, and an op
// older than its register's last write as changing nothing. A voter with
// 3 of 5 dots on a note could otherwise send [withdraw, 8], then
// [withdraw, 13] (each op weighed against the 3 the board held), or,
// from a second replica whose clock is behind, [withdraw (which loses to
// the later write), 5 on another note].
func TestDotsBudgetWeighsEachOpAsItApplies(t *testing.T) {
	m := newManager(t, votingOpen(5))
	r := open(t, m)
	ed := sessionAs(t, r, "ed", 0xe1, room.RoleEditor)
	vo := sessionAs(t, r, "vo", 0xc1, room.RoleCommenter)
	ts := crdt.MakeTimestamp(1_750_000_000_000, 0)
	if _, e := submitOne(t, r, ed, 1, crdt.Change{Replica: 0xe1, Start: 1, Time: ts, Ops: []crdt.Op{
		{Type: crdt.OpCreate, Element: el(1), Key: "note"}, {Type: crdt.OpCreate, Element: el(2), Key: "note"}}}); e != nil {
		t.Fatal(e.Message)
	}
	if _, e := submitOne(t, r, vo, 1, crdt.Change{Replica: 0xc1, Start: 1, Time: ts + 100, Ops: []crdt.Op{dotVote(el(1), "vo", 3)}}); e != nil {
		t.Fatal(e.Message)
	}
	// Withdraw and give again within one change: weighed op by op.
	_, e := submitOne(t, r, vo, 2, crdt.Change{Replica: 0xc1, Start: 2, Time: ts + 200, Ops: []crdt.Op{dotVote(el(1), "vo", 0), dotVote(el(1), "vo", 8)}})
	if e == nil || e.Code != protocol.CodeForbidden {
		t.Fatalf("[withdraw, 8] with a budget of 5: %+v, want forbidden", e)
	}
	// Moving the 3 dots up to the budget in one change is fine.
	vo2 := sessionAs(t, r, "vo", 0xc2, room.RoleCommenter)
	if _, e := submitOne(t, r, vo2, 1, crdt.Change{Replica: 0xc2, Start: 1, Time: ts + 300, Ops: []crdt.Op{dotVote(el(1), "vo", 0), dotVote(el(1), "vo", 5)}}); e != nil {
		t.Fatalf("[withdraw, 5]: %s", e.Message)
	}
	// From the first replica, its clock behind the second's write: its
	// withdrawal loses to the 5 written later, so 5 more on the other
	// note would make 10.
	_, e = submitOne(t, r, vo, 3, crdt.Change{Replica: 0xc1, Start: 2, Time: ts + 250, Ops: []crdt.Op{dotVote(el(1), "vo", 0), dotVote(el(2), "vo", 5)}})
	if e == nil || e.Code != protocol.CodeForbidden {
		t.Fatalf("an older withdrawal and 5 dots elsewhere: %+v, want forbidden", e)
	}
	if got := dotsOn(t, r, "vo"); got != 5 {
		t.Fatalf("the voter holds %g dots, budget 5", got)
	}
}

// TestDotsBudgetCostDoesNotGrowWithTheBoard: weighing a vote against the
// budget costs the change's ops, not the board's elements. The worst
// case: one-vote changes on a big board. What the room allocates for
// 200 of them on a board of 20 000 elements is compared with the same on
// a board of 200: summing the voter's dots over the board for each change
// (which took the room seconds) allocates a list of the board's elements
// each time, a hundred times more on the big board.
func TestDotsBudgetCostDoesNotGrowWithTheBoard(t *testing.T) {
	cost := func(elements int) uint64 {
		m := newManager(t, votingOpen(5))
		r := open(t, m)
		ed := sessionAs(t, r, "ed", 0xe1, room.RoleEditor)
		vo := sessionAs(t, r, "vo", 0xc1, room.RoleCommenter)
		ts := crdt.MakeTimestamp(1_750_000_000_000, 0)
		ops := make([]crdt.Op, elements)
		for i := range ops {
			ops[i] = crdt.Op{Type: crdt.OpCreate, Element: el(i + 1), Key: "note"}
		}
		if _, e := submitOne(t, r, ed, 1, crdt.Change{Replica: 0xe1, Start: 1, Time: ts, Ops: ops}); e != nil {
			t.Fatal(e.Message)
		}
		// The first vote sums the board once.
		if _, e := submitOne(t, r, vo, 1, crdt.Change{Replica: 0xc1, Start: 1, Time: ts + 1000, Ops: []crdt.Op{dotVote(el(1), "vo", 1)}}); e != nil {
			t.Fatal(e.Message)
		}
		var cs []crdt.Change
		for k := range 200 {
			cs = append(cs, crdt.Change{Replica: 0xc1, Start: uint64(2 + 2*k), Time: ts + 2000 + crdt.Timestamp(2*k),
				Ops: []crdt.Op{dotVote(el(1+k%elements), "vo", 1), dotVote(el(1+(k+elements-1)%elements), "vo", 0)}})
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := r.Submit(context.Background(), vo, 2, cs); err != nil {
			t.Fatal(err)
		}
		if a := expectAck(t, vo, 2); a.Applied != len(cs) {
			t.Fatalf("ack %+v", a)
		}
		runtime.ReadMemStats(&after)
		if got := dotsOn(t, r, "vo"); got != 1 {
			t.Fatalf("the voter holds %g dots, want 1", got)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, big := cost(200), cost(20_000)
	t.Logf("200 one-vote changes: %d bytes allocated on a board of 200 elements, %d on 20 000", small, big)
	if big > 2*small+(256<<10) {
		t.Fatalf("the room's work per vote grows with the board: %d bytes on 200 elements, %d on 20 000", small, big)
	}
}

// BenchmarkDotVoteBigBoard: one-vote changes, each alone in its batch, on
// a board of 20 000 elements with a dots budget (ns/op: one change,
// admitted, stored and acked). Run with
// go test -run '^$' -bench BenchmarkDotVoteBigBoard ./server/room/
func BenchmarkDotVoteBigBoard(b *testing.B) {
	m := newManager(b, votingOpen(5))
	r := open(b, m)
	ed := sessionAs(b, r, "ed", 0xe1, room.RoleEditor)
	vo := sessionAs(b, r, "vo", 0xc1, room.RoleCommenter)
	ts := crdt.MakeTimestamp(1_750_000_000_000, 0)
	ops := make([]crdt.Op, 20_000)
	for i := range ops {
		ops[i] = crdt.Op{Type: crdt.OpCreate, Element: el(i + 1), Key: "note"}
	}
	if _, e := submitOne(b, r, ed, 1, crdt.Change{Replica: 0xe1, Start: 1, Time: ts, Ops: ops}); e != nil {
		b.Fatal(e.Message)
	}
	b.ResetTimer()
	for k := range b.N {
		c := crdt.Change{Replica: 0xc1, Start: uint64(1 + k), Time: ts + 1000 + crdt.Timestamp(k),
			Ops: []crdt.Op{dotVote(el(1), "vo", k%2)}}
		if err := r.Submit(context.Background(), vo, uint64(1+k), []crdt.Change{c}); err != nil {
			b.Fatal(err)
		}
		expectAck(b, vo, uint64(1+k))
	}
}
