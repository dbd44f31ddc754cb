package crdt

import (
	"errors"
	"math/bits"
	"testing"
)

// chainedInserts returns a change of replica 2 from counter start that
// inserts n characters one op each, each after the one before. With
// interleave, every other op inserts into a second field instead, so that
// the characters of each field are runs with gaps between them.
func chainedInserts(el ElementID, start uint64, n int, interleave bool) Change {
	c := Change{Replica: 2, Start: start, Time: MakeTimestamp(1_700_000_000_000, 0), Ops: make([]Op, n)}
	last := map[string]OpID{}
	for i := range c.Ops {
		key := "text"
		if interleave && i%2 == 1 {
			key = "label"
		}
		c.Ops[i] = Op{Type: OpInsertText, Element: el, Key: key, Text: "x", Left: last[key]}
		last[key] = OpID{2, start + uint64(i)}
	}
	return c
}

// TestCheckChainedInsertsBounded: Check looks up the origin of each insert
// among the characters inserted by the ops before it in the same change.
// One change of tens of thousands of chained inserts (one message, one
// change for the rate limits) must cost O(ops × log ops) lookups, not
// ops²: the room runs Check for every client change.
func TestCheckChainedInsertsBounded(t *testing.T) {
	const n = 20000
	var el ElementID
	el[0] = 9
	for _, interleave := range []bool{false, true} {
		d := NewDoc()
		tx := d.Begin(1, 100)
		must(t, tx.Create(el, "note"))
		tx.Commit()
		c := chainedInserts(el, 1, n, interleave)
		d.checkWork = 0
		if err := d.Check(&c); err != nil {
			t.Fatalf("interleave=%v: Check = %v", interleave, err)
		}
		bound := n * (bits.Len(n) + 1)
		if d.checkWork > bound {
			t.Fatalf("interleave=%v: Check of %d chained inserts took %d probes; bound %d", interleave, n, d.checkWork, bound)
		}
		t.Logf("interleave=%v: %d chained inserts, %d probes", interleave, n, d.checkWork)
		if st, _, err := d.Apply(c); err != nil || st != Applied || d.Skipped() != 0 {
			t.Fatalf("interleave=%v: Apply = %v %v, skipped %d", interleave, st, err, d.Skipped())
		}
		want := n
		if interleave {
			want = n / 2
		}
		if got := len(d.Text(el, "text")); got != want {
			t.Fatalf("interleave=%v: text of %d characters, want %d", interleave, got, want)
		}
	}
}

// TestCheckDeleteAcrossInserts: Check says what Apply does. A delete_text
// over the characters of two inserts of the same change that follow one
// another applies (the characters have consecutive counters), so Check
// takes it; one over a counter that went to another field is skipped by
// Apply, so Check refuses it.
func TestCheckDeleteAcrossInserts(t *testing.T) {
	var el ElementID
	el[0] = 9
	base := func() *Doc {
		d := NewDoc()
		tx := d.Begin(1, 100)
		must(t, tx.Create(el, "note"))
		tx.Commit()
		return d
	}
	ts := MakeTimestamp(1_700_000_000_000, 0)
	across := Change{Replica: 2, Start: 1, Time: ts, Ops: []Op{
		{Type: OpInsertText, Element: el, Key: "text", Text: "ab"},
		{Type: OpInsertText, Element: el, Key: "text", Text: "cd", Left: OpID{2, 2}},
		{Type: OpDeleteText, Element: el, Key: "text", Target: OpID{2, 2}, Count: 2},
	}}
	d := base()
	if err := d.Check(&across); err != nil {
		t.Fatalf("Check(delete over two inserts) = %v", err)
	}
	if st, _, err := d.Apply(across); err != nil || st != Applied || d.Skipped() != 0 || d.Text(el, "text") != "ad" {
		t.Fatalf("Apply = %v %v, skipped %d, text %q", st, err, d.Skipped(), d.Text(el, "text"))
	}
	gap := Change{Replica: 2, Start: 1, Time: ts, Ops: []Op{
		{Type: OpInsertText, Element: el, Key: "text", Text: "ab"},
		{Type: OpInsertText, Element: el, Key: "label", Text: "x"},
		{Type: OpInsertText, Element: el, Key: "text", Text: "cd", Left: OpID{2, 2}},
		{Type: OpDeleteText, Element: el, Key: "text", Target: OpID{2, 2}, Count: 3},
	}}
	d = base()
	if err := d.Check(&gap); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("Check(delete over another field's character) = %v, want ErrInvalidOp", err)
	}
	if _, _, err := d.Apply(gap); err != nil || d.Skipped() != 1 || d.Text(el, "text") != "abcd" {
		t.Fatalf("Apply: %v, skipped %d, text %q", err, d.Skipped(), d.Text(el, "text"))
	}
}
