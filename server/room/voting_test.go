package room_test

import (
	"context"
	"fmt"
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
	ts := crdt.MakeTimestamp(1_900_000_000_000, 0)
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
