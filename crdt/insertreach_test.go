package crdt

import (
	"testing"
)

// InsertReach bounds the runs a change's inserts walk as they apply:
// typing, whether into an empty note or on from a character of a long
// fragmented text, costs a few runs per insert; an insert whose origins
// are the ends of a text of N runs costs about N, whether it names them
// itself or through a character the same change inserted; a change of k
// inserts all between the same two origins costs about k², so 1,000 of
// them pass no bound a client change may have.
func TestInsertReach(t *testing.T) {
	d := NewDoc()
	rep := ReplicaID(3)
	ms := int64(1_700_000_000_000)
	el := ElementID{15: 1}
	edit := func(fn func(tx *Tx)) Change {
		t.Helper()
		ms++
		tx := d.Begin(rep, ms)
		fn(&tx)
		c, ok := tx.Commit()
		if !ok {
			t.Fatal("empty change")
		}
		return c
	}
	edit(func(tx *Tx) {
		if err := tx.Create(el, "note"); err != nil {
			t.Fatal(err)
		}
	})
	// A text of 2,000 runs: each character typed before the one before.
	const runs = 2000
	for range runs {
		edit(func(tx *Tx) {
			if err := tx.InsertText(el, "text", 0, "x"); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Typing 100 characters on from the middle, as one change (a client
	// that makes it on another copy: the doc here must not have it yet).
	other, err := LoadSnapshot(d.SnapshotRaw())
	if err != nil {
		t.Fatal(err)
	}
	ms++
	tx := other.Begin(ReplicaID(4), ms)
	for i := range 100 {
		if err := tx.InsertText(el, "text", runs/2+i, "y"); err != nil {
			t.Fatal(err)
		}
	}
	typing, _ := tx.Commit()
	if n := d.InsertReach(&typing, 1<<30); n > 4*100 {
		t.Errorf("typing 100 characters in one change: %d runs, want at most 400", n)
	}
	// One insert between the text's ends, and the same through a character
	// of its own change.
	far := Change{Replica: 5, Start: 1, Time: MakeTimestamp(uint64(ms+1), 0), Ops: []Op{{Type: OpInsertText, Element: el, Key: "text", Text: "z"}}}
	if n := d.InsertReach(&far, 1<<30); n < runs {
		t.Errorf("an insert between the ends of %d runs: %d", runs, n)
	}
	first := d.elems[el].text("text").leaves[0].runs[0].id // the text's first character
	via := Change{Replica: 6, Start: 1, Time: MakeTimestamp(uint64(ms+1), 0), Ops: []Op{
		{Type: OpInsertText, Element: el, Key: "text", Text: "a", Right: first},     // at the start: neighbours
		{Type: OpInsertText, Element: el, Key: "text", Text: "b", Left: OpID{6, 1}}, // from there to the end
	}}
	if n := d.InsertReach(&via, 1<<30); n < runs {
		t.Errorf("an insert from a character of its own change to the text's end: %d", n)
	}
	// 1,000 inserts between the same two origins of a new text.
	same := Change{Replica: 7, Start: 1, Time: MakeTimestamp(uint64(ms+1), 0)}
	for range 1000 {
		same.Ops = append(same.Ops, Op{Type: OpInsertText, Element: el, Key: "title", Text: "q"})
	}
	if n := d.InsertReach(&same, 200_000); n <= 200_000 {
		t.Errorf("1,000 inserts between the same origins: %d runs, want past 200,000", n)
	}
	t.Logf("typing %d, far %d, via %d, same %d", d.InsertReach(&typing, 1<<30), d.InsertReach(&far, 1<<30), d.InsertReach(&via, 1<<30), d.InsertReach(&same, 1<<30))
}
