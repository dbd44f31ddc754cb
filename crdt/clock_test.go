package crdt

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

const clockNow = 1_790_000_000_000 // a physical time, in ms

// TestForgedTimeDoesNotWrapTheClock: a change stamped near 2^64 (here a
// delete, as an editor could send one) must not drive the clock of the
// replicas that apply it to the end of its range. Before, the next local
// change got the time 2^64 − 1, which no replica takes (its counters
// overflow); the one after wrapped round to the physical time and sorted
// before the forged write. Now the forged time is not adopted: every later
// local change is valid, sorts after every honest one, and its replica's
// times keep increasing, also in a copy loaded from a snapshot.
func TestForgedTimeDoesNotWrapTheClock(t *testing.T) {
	var note ElementID
	note[0] = 7
	d := NewDoc()
	tx := d.Begin(1, clockNow)
	must(t, tx.Create(note, "note"))
	created, _ := tx.Commit()
	forged := Change{Replica: 0xe1, Start: 1, Time: math.MaxUint64 - 1, Ops: []Op{{Type: OpDelete, Element: note, Deleted: true}}}
	if err := forged.Validate(); err != nil {
		t.Fatalf("the forged change is valid (stored boards may hold one): %v", err)
	}
	if _, _, err := d.Apply(forged); err != nil {
		t.Fatal(err)
	}
	peer := NewDoc()
	for _, c := range []Change{created, forged} {
		if _, _, err := peer.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	prev := created.Time
	check := func(d *Doc, replica ReplicaID, now int64, what string) {
		t.Helper()
		tx := d.Begin(replica, now)
		must(t, tx.Set(note, "color", String("yellow")))
		c, _ := tx.Commit()
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: local change refused: %v", what, err)
		}
		if c.Time <= prev || c.Time > MaxTime {
			t.Fatalf("%s: time %d, want after %d and at most MaxTime", what, c.Time, prev)
		}
		if _, _, err := peer.Apply(c); err != nil {
			t.Fatalf("%s: peer: %v", what, err)
		}
		prev = c.Time
	}
	for i := range 3 {
		// The physical clock stands still, even goes back: the times
		// still increase.
		check(d, 1, clockNow-int64(i), "edit")
	}
	if d.Clock() > MaxTime {
		t.Fatalf("clock %d: the forged time was adopted", d.Clock())
	}
	loaded, err := LoadSnapshot(d.Snapshot())
	if err != nil {
		t.Fatalf("a snapshot holding the forged time does not load: %v", err)
	}
	if !bytes.Equal(loaded.SnapshotRaw(), d.SnapshotRaw()) {
		t.Fatal("the loaded copy encodes differently")
	}
	if loaded.Clock() != d.Clock() {
		t.Fatalf("loaded clock %d, want %d", loaded.Clock(), d.Clock())
	}
	for range 2 {
		check(loaded, 1, clockNow, "edit after a load")
	}
	// The forged write keeps its register: later writes sort before it.
	// Nodes refuse such times from clients before they are stored.
	if !peer.IsDeleted(note) || !loaded.IsDeleted(note) {
		t.Fatal("the forged delete lost its register")
	}
}

// TestClockFollowsPastMaxTime: a replica whose clock went past MaxTime by
// its own changes (after a forged time just below it) is followed by the
// others: each of its changes is within one change's readings of the
// clock, so a replica that saw it sorts its next change after it, and a
// restore made after seeing a delete wins.
func TestClockFollowsPastMaxTime(t *testing.T) {
	var note ElementID
	note[0] = 7
	a, b := NewDoc(), NewDoc()
	apply := func(c Change) {
		t.Helper()
		for _, d := range []*Doc{a, b} {
			if _, _, err := d.Apply(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(Change{Replica: 0xe1, Start: 1, Time: MaxTime - 2, Ops: []Op{{Type: OpCreate, Element: note, Key: "note"}}})
	edit := func(d *Doc, r ReplicaID, f func(tx *Tx) error) Change {
		t.Helper()
		tx := d.Begin(r, clockNow)
		must(t, f(&tx))
		c, _ := tx.Commit()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		other := b
		if d == b {
			other = a
		}
		if _, _, err := other.Apply(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	del := edit(a, 1, func(tx *Tx) error { return tx.Delete(note) })
	txt := edit(a, 1, func(tx *Tx) error { return tx.InsertText(note, "text", 0, "hello") })
	if txt.stampAt(txt.End()).TS <= MaxTime || txt.Time <= del.Time {
		t.Fatalf("times %d, %d: want increasing, past MaxTime", del.Time, txt.Time)
	}
	res := edit(b, 2, func(tx *Tx) error { return tx.Restore(note) })
	if last := txt.stampAt(txt.End()).TS; res.Time <= last {
		t.Fatalf("restore at %d, not after the last change b saw (%d)", res.Time, last)
	}
	if a.IsDeleted(note) || b.IsDeleted(note) {
		t.Fatal("the restore made after the delete lost to it")
	}
	// A copy loaded from a snapshot takes the same reading.
	c, err := LoadSnapshot(b.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if c.Clock() != b.Clock() {
		t.Fatalf("loaded clock %d, want %d", c.Clock(), b.Clock())
	}
}

// TestClockNeverWraps: a clock with fewer readings left than a change may
// take refuses to start one (every op of the transaction is refused, and
// Next returns 0) instead of wrapping round. Only forged times could bring
// a clock there; the test puts it there directly.
func TestClockNeverWraps(t *testing.T) {
	var note ElementID
	note[0] = 7
	d := NewDoc()
	tx := d.Begin(1, clockNow)
	must(t, tx.Create(note, "note"))
	tx.Commit()
	d.clock.last = math.MaxUint64 - maxStep
	tx = d.Begin(1, clockNow)
	if err := tx.Set(note, "x", Number(1)); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("Set = %v, want ErrInvalidOp", err)
	}
	if err := tx.InsertText(note, "text", 0, "x"); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("InsertText = %v, want ErrInvalidOp", err)
	}
	if c, ok := tx.Commit(); ok {
		t.Fatalf("committed %+v", c)
	}
	if d.Text(note, "text") != "" || d.Version()[1] != 1 {
		t.Fatal("the refused ops changed the doc")
	}
	c := Clock{last: math.MaxUint64 - maxStep - 1}
	if got := c.Next(clockNow, 1); got != math.MaxUint64-maxStep {
		t.Fatalf("Next = %d, want the last full reading", got)
	}
	if got := c.Next(clockNow, 1); got != 0 {
		t.Fatalf("Next = %d, want 0", got)
	}
	// A physical time past MaxTime is a broken clock: ignored.
	var c2 Clock
	if got := c2.Next(math.MaxInt64, 1); got != 1 {
		t.Fatalf("Next(MaxInt64) = %d, want 1", got)
	}
}
