package crdt

import (
	"bytes"
	"errors"
	"testing"
)

// A change that does not decode is an error and changes nothing, as for
// Apply; one that does is applied as Apply applies it.
func TestApplyBinaryRefusesWhatDoesNotDecode(t *testing.T) {
	c := sampleChange()
	good := c.AppendBinary(nil)
	d := NewDoc()
	before := d.Snapshot()
	for _, bad := range [][]byte{nil, good[:len(good)-1], append(bytes.Clone(good), 0), {2}} {
		if _, _, _, err := d.ApplyBinary(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("ApplyBinary(%x...): %v, want ErrMalformed", bad[:min(len(bad), 8)], err)
		}
	}
	if !bytes.Equal(d.Snapshot(), before) {
		t.Fatal("a refused change changed the doc")
	}
	// Invalid UTF-8 in a text: the decoder refuses it (Apply's own check
	// is skipped on this path, so the decoder's must hold).
	var e ElementID
	e[0] = 9
	bad := Change{Replica: 5, Start: 1, Time: 1, Ops: []Op{{Type: OpInsertText, Element: e, Key: "text", Text: "\xff"}}}
	if _, _, _, err := d.ApplyBinary(bad.AppendBinary(nil)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("text not UTF-8: %v, want ErrMalformed", err)
	}

	ref := NewDoc()
	wantSt, _, err := ref.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	got, st, applied, err := d.ApplyBinary(good)
	if err != nil || st != wantSt {
		t.Fatalf("ApplyBinary: %v %v, want %v", st, err, wantSt)
	}
	if got.Replica != c.Replica || len(got.Ops) != len(c.Ops) || (st == Applied && len(applied) != 1) {
		t.Fatalf("decoded %+v, applied %d", got, len(applied))
	}
	if !bytes.Equal(d.Snapshot(), ref.Snapshot()) {
		t.Fatal("ApplyBinary and Apply left different docs")
	}
}

// One big change (an import of MaxOps ops) must not leave its ops'
// buffer, megabytes, in the doc for good.
func TestApplyBinaryKeepsNoBigBuffer(t *testing.T) {
	d := NewDoc()
	var ids []ElementID
	for i := range 3000 {
		var e ElementID
		e[0], e[1], e[2] = 1, byte(i), byte(i>>8)
		ids = append(ids, e)
	}
	src := NewDoc()
	tx := src.Begin(7, 1)
	for _, e := range ids {
		tx.Create(e, "note")
	}
	big, _ := tx.Commit()
	if _, _, _, err := d.ApplyBinary(big.AppendBinary(nil)); err != nil {
		t.Fatal(err)
	}
	if cap(d.decodeBuf) > maxDecodeBuf {
		t.Fatalf("the doc keeps a buffer of %d ops after a change of %d", cap(d.decodeBuf), len(big.Ops))
	}
	tx = src.Begin(7, 2)
	tx.Set(ids[0], "x", Number(1))
	small, _ := tx.Commit()
	if _, _, _, err := d.ApplyBinary(small.AppendBinary(nil)); err != nil {
		t.Fatal(err)
	}
	if c := cap(d.decodeBuf); c == 0 || c > maxDecodeBuf {
		t.Fatalf("buffer of %d ops after a small change", c)
	}
}

// versions remembers the last replica it looked up: reads and writes that
// switch between replicas must each land on their own counter.
func TestVersionsCache(t *testing.T) {
	v := newVersions()
	want := VersionVector{}
	seq := []struct {
		r ReplicaID
		n uint64
	}{{1, 5}, {2, 3}, {1, 6}, {1, 7}, {3, 1}, {2, 9}, {1, 8}}
	for _, s := range seq {
		if got := v.get(s.r); got != want[s.r] {
			t.Fatalf("get(%v) = %d, want %d", s.r, got, want[s.r])
		}
		v.set(s.r, s.n)
		want[s.r] = s.n
		if !v.contains(OpID{s.r, s.n}) || v.contains(OpID{s.r, s.n + 1}) {
			t.Fatalf("contains around %v %d", s.r, s.n)
		}
	}
	if got := v.vector(); got.Compare(want) != Equal || len(got) != len(want) {
		t.Fatalf("vector %v, want %v", got, want)
	}
	if v.get(4) != 0 || v.contains(OpID{4, 1}) {
		t.Fatal("an absent replica has counters")
	}
	w := versionsOf(want)
	for r, n := range want {
		if w.get(r) != n {
			t.Fatalf("versionsOf: %v = %d, want %d", r, w.get(r), n)
		}
	}
	// vector is a copy: writing it does not write the doc's.
	got := v.vector()
	got[1] = 100
	if v.get(1) != 8 {
		t.Fatal("vector shares storage")
	}
}

// A change that overlaps the counters a doc has is held cut (from the
// first counter it lacks): dropping it by its own start missed it, and a
// node over its held limits kept it.
func TestDropHeldChangeOfAnOverlappingChange(t *testing.T) {
	var made, missing ElementID
	made[0], missing[0] = 1, 2
	d := NewDoc()
	first := Change{Replica: 9, Start: 1, Time: 1, Ops: []Op{{Type: OpCreate, Element: made, Key: "note"}}}
	if st, _, err := d.Apply(first); err != nil || st != Applied {
		t.Fatal(st, err)
	}
	// Counter 1 again, then an op on an element the doc lacks.
	over := Change{Replica: 9, Start: 1, Time: 1, Ops: []Op{
		{Type: OpCreate, Element: made, Key: "note"},
		{Type: OpSet, Element: missing, Key: "x", Value: Number(1)},
	}}
	if st, _, err := d.Apply(over); err != nil || st != Held {
		t.Fatal(st, err)
	}
	if d.DropHeld(over.Replica, over.Start) {
		t.Fatal("held under its own start: the test does not test the cut")
	}
	if !d.DropHeldChange(&over) || d.Held() != 0 || d.HeldBytes() != 0 {
		t.Fatalf("DropHeldChange left %d held (%d bytes)", d.Held(), d.HeldBytes())
	}
}
