package crdt

import (
	"math"
	"testing"
)

// TestDots: the one rule that reads a vote value as dots.
func TestDots(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Value
		dots float64
		ok   bool
	}{
		{"null withdraws", Null(), 0, true},
		{"false withdraws", Bool(false), 0, true},
		{"true is one", Bool(true), 1, true},
		{"zero withdraws", Number(0), 0, true},
		{"whole number", Number(3), 3, true},
		{"the most", Number(MaxDots), MaxDots, true},
		{"past the most", Number(MaxDots + 1), 0, false},
		{"negative", Number(-2), 0, false},
		{"fraction", Number(2.5), 0, false},
		{"huge", Number(math.MaxFloat64), 0, false},
		{"a reaction", String("🎉"), 0, false},
		{"a number as a string", String("3"), 0, false},
		{"empty string", String(""), 0, false},
	} {
		dots, ok := Dots(tc.v)
		if dots != tc.dots || ok != tc.ok {
			t.Errorf("%s: Dots(%s) = %g, %v; want %g, %v", tc.name, tc.v, dots, ok, tc.dots, tc.ok)
		}
	}
}

// TestTallyUsesDots: a string vote counts as a voter and gives no dots.
func TestTallyUsesDots(t *testing.T) {
	d := NewDoc()
	var e ElementID
	e[15] = 1
	tx := d.Begin(1, 1000)
	if err := tx.Create(e, "note"); err != nil {
		t.Fatal(err)
	}
	for voter, v := range map[string]Value{"ana": Number(2), "bo": String("🎉"), "cy": Bool(true), "di": Number(-7)} {
		if err := tx.Vote(e, "vote", voter, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := tx.Commit(); !ok {
		t.Fatal("empty change")
	}
	voters, sum := d.Tally(e, "vote")
	if voters != 4 || sum != 3 {
		t.Fatalf("Tally = %d voters, %g dots; want 4, 3", voters, sum)
	}
}

func voteOp(e ElementID, voter string, v Value) Op {
	return Op{Type: OpVote, Element: e, Key: "vote", Voter: voter, Value: v}
}

// TestVoteChanges: what a change's votes would do to their registers, op
// by op: each op sees the ones before it in the change, an op older than
// its register's last write changes nothing, and ops the doc has are
// skipped.
func TestVoteChanges(t *testing.T) {
	var a, b ElementID
	a[15], b[15] = 1, 2
	d := NewDoc()
	mustApply(t, d, Change{Replica: 1, Start: 1, Time: 1000, Ops: []Op{{Type: OpCreate, Element: a, Key: "note"}, {Type: OpCreate, Element: b, Key: "note"}}})
	// Replica 2 gives a 3 dots at time 5000.
	mustApply(t, d, Change{Replica: 2, Start: 1, Time: 5000, Ops: []Op{voteOp(a, "vo", Number(3))}})
	type step struct {
		i             int
		before, after Value
	}
	weigh := func(c Change) []step {
		var out []step
		d.VoteChanges(&c, "vote", func(i int, _ *Op, before, after Value) bool {
			out = append(out, step{i, before, after})
			return true
		})
		return out
	}
	same := func(got, want []step) bool {
		if len(got) != len(want) {
			return false
		}
		for k := range got {
			if got[k].i != want[k].i || !got[k].before.Equal(want[k].before) || !got[k].after.Equal(want[k].after) {
				return false
			}
		}
		return true
	}
	// Later than the register: withdraw, then 8 — the second op replaces
	// what the first left, not the 3 the board holds.
	later := Change{Replica: 2, Start: 2, Time: 6000, Ops: []Op{voteOp(a, "vo", Null()), {Type: OpSet, Element: a, Key: "color", Value: String("red")}, voteOp(a, "vo", Number(8))}}
	if got, want := weigh(later), []step{{0, Number(3), Null()}, {2, Null(), Number(8)}}; !same(got, want) {
		t.Errorf("later change: %v, want %v", got, want)
	}
	// Older than the register (another replica of the voter, its clock
	// behind): its withdrawal of a changes nothing; b is new.
	older := Change{Replica: 3, Start: 1, Time: 4000, Ops: []Op{voteOp(a, "vo", Null()), voteOp(b, "vo", Number(3))}}
	if got, want := weigh(older), []step{{0, Number(3), Number(3)}, {1, Null(), Number(3)}}; !same(got, want) {
		t.Errorf("older change: %v, want %v", got, want)
	}
	// What the doc has is skipped: replica 2's first change again, with
	// one op more.
	again := Change{Replica: 2, Start: 1, Time: 5000, Ops: []Op{voteOp(a, "vo", Number(3)), voteOp(b, "vo", Number(1))}}
	if got, want := weigh(again), []step{{1, Null(), Number(1)}}; !same(got, want) {
		t.Errorf("partly known change: %v, want %v", got, want)
	}
	// And Apply agrees with the last step of each.
	mustApply(t, d, older)
	if v, _ := liveVoteOf(d, a, "vo"); !v.Equal(Number(3)) {
		t.Errorf("after the older change a holds %v, want 3", v)
	}
	mustApply(t, d, later)
	if v, _ := liveVoteOf(d, a, "vo"); !v.Equal(Number(8)) {
		t.Errorf("after the later change a holds %v, want 8", v)
	}
}

func liveVoteOf(d *Doc, e ElementID, voter string) (Value, bool) {
	for _, v := range d.Votes(e, "vote") {
		if v.Voter == voter {
			return v.Value, true
		}
	}
	return Null(), false
}

func mustApply(t *testing.T, d *Doc, c Change) {
	t.Helper()
	if _, _, err := d.Apply(c); err != nil {
		t.Fatal(err)
	}
}

// TestHooks: the Vote hook sees every write of a vote register with the
// value it replaced, and none for a write that loses to a later one; the
// Release hook rules on a held change just before it applies: a change it
// refuses is not applied, and the later changes of its replica keep
// waiting for its counters until DropHeldOf drops them.
func TestHooks(t *testing.T) {
	var a ElementID
	a[15] = 1
	d := NewDoc()
	type write struct{ voter, old, now string }
	var writes []write
	var asked []uint64
	refuse := map[ReplicaID]bool{}
	d.SetHooks(Hooks{
		Vote: func(el ElementID, key, voter string, old, now Value) {
			writes = append(writes, write{voter, old.String(), now.String()})
		},
		Release: func(c *Change) bool {
			asked = append(asked, c.Start)
			return !refuse[c.Replica]
		},
	})
	mustApply(t, d, Change{Replica: 1, Start: 1, Time: 1000, Ops: []Op{{Type: OpCreate, Element: a, Key: "note"}, voteOp(a, "vo", Number(2))}})
	mustApply(t, d, Change{Replica: 2, Start: 1, Time: 900, Ops: []Op{voteOp(a, "vo", Number(5))}}) // older: loses
	mustApply(t, d, Change{Replica: 2, Start: 2, Time: 2000, Ops: []Op{voteOp(a, "vo", Null())}})
	if want := []write{{"vo", "null", "2"}, {"vo", "2", "null"}}; len(writes) != 2 || writes[0] != want[0] || writes[1] != want[1] {
		t.Fatalf("vote writes %v, want %v", writes, want)
	}
	// Replica 3's changes 2 and 3 wait for its change 1. Refusing
	// replica 3: when its change 1 comes (applied: it was not held),
	// change 2 is asked about and refused, and 3 waits on.
	refuse[3] = true
	held := func(c Change) {
		t.Helper()
		if st, _, err := d.Apply(c); err != nil || st != Held {
			t.Fatalf("%v %v, want held", st, err)
		}
	}
	held(Change{Replica: 3, Start: 2, Time: 3000, Ops: []Op{{Type: OpDelete, Element: a, Deleted: true}}})
	held(Change{Replica: 3, Start: 3, Time: 3001, Ops: []Op{{Type: OpSet, Element: a, Key: "color", Value: String("red")}}})
	mustApply(t, d, Change{Replica: 3, Start: 1, Time: 2500, Ops: []Op{{Type: OpSet, Element: a, Key: "x", Value: Number(1)}}})
	if len(asked) != 1 || asked[0] != 2 {
		t.Fatalf("Release asked about %v, want change 2 only", asked)
	}
	if d.IsDeleted(a) || d.VersionOf(3) != 1 {
		t.Fatalf("refused change applied: deleted %v, version %d", d.IsDeleted(a), d.VersionOf(3))
	}
	if n, _ := d.HeldOf(3); n != 1 {
		t.Fatalf("replica 3 holds %d changes, want 1 (change 3, waiting)", n)
	}
	if got := d.DropHeldOf(3); got != 1 || d.Held() != 0 || d.HeldBytes() != 0 {
		t.Fatalf("DropHeldOf dropped %d; %d held, %d bytes left", got, d.Held(), d.HeldBytes())
	}
	// A refused change that comes again, now allowed, applies.
	refuse[3] = false
	mustApply(t, d, Change{Replica: 3, Start: 2, Time: 3000, Ops: []Op{{Type: OpDelete, Element: a, Deleted: true}}})
	if !d.IsDeleted(a) || len(asked) != 1 {
		t.Fatalf("sent again: deleted %v, asked %v (a change that is not held is not asked about)", d.IsDeleted(a), asked)
	}
}
