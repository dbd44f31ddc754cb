package crdt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

func sampleChange() Change {
	var a, b ElementID
	a[0], b[0] = 1, 2
	obj, _ := JSONValue([]byte(`{"b":[1,2],"a":"x"}`))
	return Change{Replica: 0xabc, Start: 7, Time: MakeTimestamp(1_700_000_000_123, 4), Ops: []Op{
		{Type: OpCreate, Element: a, Key: "note"},
		{Type: OpSet, Element: a, Key: "x", Value: Number(1234.56)},
		{Type: OpSet, Element: a, Key: "style", Value: obj},
		{Type: OpInsertText, Element: a, Key: "text", Text: "héllo", Left: OpID{0xdef, 3}},
		{Type: OpDeleteText, Element: a, Key: "text", Target: OpID{0xabc, 9}, Count: 2},
		{Type: OpMove, Element: a, Parent: b, Pos: "a0"},
		{Type: OpMove, Element: b, Pos: "a1"},
		{Type: OpDelete, Element: b, Deleted: true},
		{Type: OpVote, Element: b, Key: "vote", Voter: "ana", Value: Number(2)},
		{Type: OpSet, Element: b, Key: "n", Value: Null()},
		{Type: OpSet, Element: b, Key: "f", Value: Number(-0.1)},
		{Type: OpSet, Element: b, Key: "big", Value: Number(1e300)},
		{Type: OpSet, Element: b, Key: "ok", Value: Bool(true)},
	}}
}

func TestChangeBinaryRoundTrip(t *testing.T) {
	c := sampleChange()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	b := c.AppendBinary(nil)
	got, err := DecodeChange(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	if !bytes.Equal(got.AppendBinary(nil), b) {
		t.Fatal("re-encoding differs")
	}
	// Every strict prefix is an error, never a panic or a partial change.
	for i := 0; i < len(b); i++ {
		if _, err := DecodeChange(b[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix %d: err = %v, want ErrMalformed", i, err)
		}
	}
	if _, err := DecodeChange(append(b, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func TestChangeJSONRoundTrip(t *testing.T) {
	c := sampleChange()
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got Change
	if err := json.Unmarshal(j, &got); err != nil {
		t.Fatalf("%v\n%s", err, j)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("JSON round trip:\n got %+v\nwant %+v\n%s", got, c, j)
	}
}

func TestChangeJSONRejects(t *testing.T) {
	base := `{"replica":"0000000000000abc","start":1,"time":{"ms":5,"l":0},"ops":[%s]}`
	for _, tc := range []struct{ name, op string }{
		{"unknown op", `{"op":"explode","el":"00000000-0000-0000-0000-000000000001"}`},
		{"root element", `{"op":"create","el":"00000000-0000-0000-0000-000000000000","kind":"note"}`},
		{"stray field", `{"op":"create","el":"00000000-0000-0000-0000-000000000001","kind":"note","text":"x"}`},
		{"unknown field", `{"op":"create","el":"00000000-0000-0000-0000-000000000001","kind":"note","zap":1}`},
		{"empty text", `{"op":"insert_text","el":"00000000-0000-0000-0000-000000000001","field":"text","text":""}`},
		{"bad op id", `{"op":"delete_text","el":"00000000-0000-0000-0000-000000000001","field":"text","target":"0@0000000000000001","count":1}`},
		{"zero count", `{"op":"delete_text","el":"00000000-0000-0000-0000-000000000001","field":"text","target":"1@0000000000000001","count":0}`},
		{"bad key", `{"op":"move","el":"00000000-0000-0000-0000-000000000001","pos":"!!"}`},
		{"value missing", `{"op":"set","el":"00000000-0000-0000-0000-000000000001","key":"x"}`},
		{"self parent", `{"op":"move","el":"00000000-0000-0000-0000-000000000001","parent":"00000000-0000-0000-0000-000000000001"}`},
	} {
		var c Change
		err := json.Unmarshal([]byte(fmt.Sprintf(base, tc.op)), &c)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", tc.name, err)
		}
	}
	var c Change
	if err := json.Unmarshal([]byte(fmt.Sprintf(base, "")), &c); !errors.Is(err, ErrMalformed) {
		t.Errorf("no ops: err = %v", err)
	}
}

func TestValueNumberForms(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 1234.56, 0.1, -0.1, 1e-7, 123456789.125, 1e300, math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1 << 53, -(1 << 60), 3.141592653589793, math.Copysign(0, -1)} {
		b := appendValue(nil, Number(f))
		r := reader{b: b}
		v, err := r.value()
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if got := v.AsNumber(); math.Float64bits(got) != math.Float64bits(f) {
			t.Fatalf("%v decoded as %v (form %d)", f, got, b[0])
		}
	}
	if n := len(appendValue(nil, Number(1234.56))); n > 5 {
		t.Errorf("1234.56 takes %d bytes, want a short decimal form", n)
	}
}

func TestVersionVector(t *testing.T) {
	a := VersionVector{1: 5, 2: 3}
	b := VersionVector{1: 5, 2: 4}
	if a.Compare(b) != Before || b.Compare(a) != After || a.Compare(a.Clone()) != Equal {
		t.Fatal("compare")
	}
	c := VersionVector{1: 6}
	if a.Compare(c) != Concurrent {
		t.Fatal("concurrent")
	}
	m := a.Missing(VersionVector{1: 2})
	if len(m) != 2 || m[0] != (Span{1, 3, 5}) || m[1] != (Span{2, 1, 3}) {
		t.Fatalf("missing = %v", m)
	}
	enc, _ := a.MarshalBinary()
	var back VersionVector
	if err := back.UnmarshalBinary(enc); err != nil || back.Compare(a) != Equal {
		t.Fatalf("binary round trip: %v %v", back, err)
	}
	a.Merge(c)
	if a[1] != 6 || a[2] != 3 {
		t.Fatalf("merge = %v", a)
	}
}

func TestClock(t *testing.T) {
	var c Clock
	t1 := c.Next(1000, 1)
	t2 := c.Next(999, 3) // physical time went backwards: still increases
	if t2 <= t1 || t1.WallMs() != 1000 {
		t.Fatalf("t1=%v t2=%v", t1, t2)
	}
	c.Observe(MakeTimestamp(5000, 7))
	if t3 := c.Next(1000, 1); t3 != MakeTimestamp(5000, 8) {
		t.Fatalf("after observe: %v", t3)
	}
}

func TestTrimOverlap(t *testing.T) {
	// A resent change that overlaps what was applied applies only its new
	// part; a straddled insert keeps its tail.
	d := NewDoc()
	var n ElementID
	n[0] = 9
	tx := d.Begin(1, 100)
	must(t, tx.Create(n, "note"))
	must(t, tx.InsertText(n, "text", 0, "abc"))
	c1, _ := tx.Commit()
	other := NewDoc()
	// other gets a prefix of the change: create + "ab"
	prefix := Change{Replica: 1, Start: 1, Time: c1.Time, Ops: []Op{c1.Ops[0], c1.Ops[1]}}
	prefix.Ops[1].Text = "ab"
	if st, _, err := other.Apply(prefix); err != nil || st != Applied {
		t.Fatal(st, err)
	}
	if st, _, err := other.Apply(c1); err != nil || st != Applied {
		t.Fatal(st, err)
	}
	if !bytes.Equal(other.Snapshot(), d.Snapshot()) || other.Text(n, "text") != "abc" {
		t.Fatalf("text = %q", other.Text(n, "text"))
	}
	if st, _, _ := other.Apply(c1); st != Duplicate {
		t.Fatalf("resend: %v", st)
	}
}

func TestCheckRefusesMeaninglessOps(t *testing.T) {
	d := NewDoc()
	var n1, n2 ElementID
	n1[0], n2[0] = 1, 2
	tx := d.Begin(1, 100)
	must(t, tx.Create(n1, "note"))
	must(t, tx.Create(n2, "note"))
	must(t, tx.InsertText(n1, "text", 0, "abc"))
	tx.Commit()
	// An insert whose origin is a character of another element's text.
	bad := Change{Replica: 2, Start: 1, Time: 500, Ops: []Op{{Type: OpInsertText, Element: n2, Key: "text", Text: "x", Left: OpID{1, 3}}}}
	if err := d.Check(&bad); !errors.Is(err, ErrInvalidOp) {
		t.Fatalf("Check = %v, want ErrInvalidOp", err)
	}
	before := d.Snapshot()
	// Applied anyway (as a peer would), it is skipped but its counter used.
	if _, _, err := d.Apply(bad); err != nil {
		t.Fatal(err)
	}
	if d.Skipped() != 1 || d.Text(n2, "text") != "" || d.Version()[2] != 1 {
		t.Fatalf("skipped=%d text=%q", d.Skipped(), d.Text(n2, "text"))
	}
	_ = before
	missing := Change{Replica: 3, Start: 1, Time: 500, Ops: []Op{{Type: OpSet, Element: ElementID{7}, Key: "x", Value: Number(1)}}}
	if err := d.Check(&missing); !errors.Is(err, ErrMissing) {
		t.Fatalf("Check = %v, want ErrMissing", err)
	}
	gap := Change{Replica: 1, Start: 9, Time: 500, Ops: []Op{{Type: OpSet, Element: n1, Key: "x", Value: Number(1)}}}
	if err := d.Check(&gap); !errors.Is(err, ErrMissing) {
		t.Fatalf("Check = %v, want ErrMissing", err)
	}
	good := Change{Replica: 2, Start: 2, Time: 600, Ops: []Op{
		{Type: OpInsertText, Element: n1, Key: "text", Text: "xy", Left: OpID{1, 5}},
		{Type: OpDeleteText, Element: n1, Key: "text", Target: OpID{2, 3}, Count: 1},
	}}
	if err := d.Check(&good); err != nil {
		t.Fatalf("Check(good) = %v", err)
	}
}

func TestSchema(t *testing.T) {
	d := NewDoc()
	var note, img, mm ElementID
	note[0], img[0], mm[0] = 1, 2, 3
	tx := d.Begin(1, 100)
	must(t, tx.Create(note, "note"))
	must(t, tx.Create(img, "image"))
	must(t, tx.Create(mm, "mindmap"))
	tx.Commit()
	for _, tc := range []struct {
		name string
		op   Op
		ok   bool
	}{
		{"note text", Op{Type: OpInsertText, Element: note, Key: "text", Text: "a"}, true},
		{"image text", Op{Type: OpInsertText, Element: img, Key: "text", Text: "a"}, false},
		{"note x string", Op{Type: OpSet, Element: note, Key: "x", Value: String("a")}, false},
		{"note x number", Op{Type: OpSet, Element: note, Key: "x", Value: Number(3)}, true},
		{"unknown prop", Op{Type: OpSet, Element: note, Key: "glow", Value: String("a")}, true},
		{"note under note", Op{Type: OpMove, Element: note, Parent: mm}, false},
		{"mindmap under mindmap", Op{Type: OpMove, Element: mm, Parent: Root}, true},
		{"recreate as other kind", Op{Type: OpCreate, Element: note, Key: "image"}, false},
	} {
		c := Change{Replica: 2, Start: 1, Time: 1, Ops: []Op{tc.op}}
		err := d.CheckSchema(&c)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidOp) {
			t.Errorf("%s: err %v is not ErrInvalidOp", tc.name, err)
		}
	}
}

// TestMissing: a peer at an old version gets exactly the rest of a log.
func TestMissing(t *testing.T) {
	s := newSim(t, 11, 3)
	s.run(150)
	r := s.reps[1]
	half := NewDoc()
	for _, c := range r.log[:len(r.log)/2] {
		half.Apply(c)
	}
	for _, c := range Missing(r.log, half.Version()) {
		if st, _, err := half.Apply(c); err != nil || st == Duplicate {
			t.Fatalf("Missing sent a change the peer had: %v %v", st, err)
		}
	}
	if !bytes.Equal(half.Snapshot(), r.doc.Snapshot()) {
		t.Fatal("peer caught up with Missing differs")
	}
}

// TestChangeAfter: the part of a change after a counter, a straddling
// insert split in the middle of its text.
func TestChangeAfter(t *testing.T) {
	d := NewDoc()
	tx := d.Begin(7, 1000)
	var e ElementID
	e[15] = 1
	if err := tx.Create(e, "note"); err != nil { // counter 1
		t.Fatal(err)
	}
	if err := tx.InsertText(e, "text", 0, "héllo"); err != nil { // counters 2..6
		t.Fatal(err)
	}
	c, _ := tx.Commit()
	for _, tc := range []struct {
		have  uint64
		ok    bool
		start uint64
		text  string // the first remaining op's text
	}{
		{0, true, 1, ""},
		{1, true, 2, "héllo"},
		{3, true, 4, "llo"},
		{5, true, 6, "o"},
		{6, false, 0, ""},
		{9, false, 0, ""},
	} {
		got, ok := c.After(tc.have)
		if ok != tc.ok {
			t.Fatalf("After(%d): ok %v", tc.have, ok)
		}
		if !ok {
			continue
		}
		if got.Start != tc.start || got.End() != c.End() || got.Ops[0].Text != tc.text {
			t.Fatalf("After(%d) = start %d end %d text %q", tc.have, got.Start, got.End(), got.Ops[0].Text)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("After(%d): %v", tc.have, err)
		}
	}
}

// TestAppendBatch: a batch of encoded changes decodes as EncodeBatch's.
func TestAppendBatch(t *testing.T) {
	s := newSim(t, 3, 2)
	s.run(20)
	log := s.reps[0].log
	var encoded [][]byte
	for i := range log {
		encoded = append(encoded, log[i].AppendBinary(nil))
	}
	got := AppendBatch([]byte{0xff}, encoded)
	if got[0] != 0xff || !bytes.Equal(got[1:], EncodeBatch(log)) {
		t.Fatal("AppendBatch differs from EncodeBatch")
	}
	if b := AppendBatch(nil, nil); !bytes.Equal(b, EncodeBatch(nil)) {
		t.Fatalf("empty batch: %x", b)
	}
}

func TestSnapshotRawForm(t *testing.T) {
	s := newSim(t, 5, 3)
	s.run(120)
	d := s.reps[0].doc
	raw, packed := d.SnapshotRaw(), d.Snapshot()
	for _, b := range [][]byte{raw, packed} {
		d2, err := LoadSnapshot(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d2.Snapshot(), packed) || !bytes.Equal(d2.SnapshotRaw(), raw) {
			t.Fatal("raw and compressed snapshots disagree")
		}
	}
	// The loaded doc does not alias the input: scribbling on it after the
	// load changes nothing.
	cp := append([]byte(nil), raw...)
	d3, _ := LoadSnapshot(cp)
	for i := range cp {
		cp[i] = 0xff
	}
	if !bytes.Equal(d3.SnapshotRaw(), raw) {
		t.Fatal("loaded doc aliases the raw snapshot bytes")
	}
}

// A replica whose own change is held (say, reloaded from a snapshot older
// than an element it edited) must not number new changes over it.
func TestBeginRefusesWhileOwnChangeHeld(t *testing.T) {
	a, b := NewDoc(), NewDoc()
	var n ElementID
	n[0] = 3
	tx := a.Begin(1, 100)
	must(t, tx.Create(n, "note"))
	create, _ := tx.Commit()
	b.Apply(create)
	tx = b.Begin(2, 200)
	must(t, tx.Set(n, "x", Number(1)))
	edit, _ := tx.Commit()
	// A fresh replica-2 doc that has its own edit but not the element.
	c := NewDoc()
	if st, _, _ := c.Apply(edit); st != Held {
		t.Fatalf("edit of an unknown element: %v, want held", st)
	}
	tx = c.Begin(2, 300)
	if err := tx.Create(ElementID{9}, "note"); !errors.Is(err, ErrMissing) {
		t.Fatalf("edit while own change held: %v, want ErrMissing", err)
	}
	if _, ok := tx.Commit(); ok {
		t.Fatal("a blocked transaction committed a change")
	}
	c.Apply(create) // the dependency arrives, the held edit applies
	tx = c.Begin(2, 400)
	must(t, tx.Set(n, "x", Number(2)))
	next, ok := tx.Commit()
	if !ok || next.Start != edit.End()+1 {
		t.Fatalf("next change starts at %d, want %d", next.Start, edit.End()+1)
	}
}

// TestChangeAppendJSON: AppendJSON makes MarshalJSON's bytes, and stops
// past its limit.
func TestChangeAppendJSON(t *testing.T) {
	d := NewDoc()
	tx := d.Begin(7, 1_700_000_000_000)
	var e ElementID
	e[0] = 1
	if err := tx.Create(e, "note"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Set(e, "x", Number(3)); err != nil {
		t.Fatal(err)
	}
	if err := tx.InsertText(e, "text", 0, "<b>&\u2028</b>"); err != nil {
		t.Fatal(err)
	}
	c, _ := tx.Commit()
	want, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c.AppendJSON([]byte("x"), 1+len(want))
	if !ok || string(got) != "x"+string(want) {
		t.Fatalf("AppendJSON: %v %s; want %s", ok, got, want)
	}
	if _, ok := c.AppendJSON(nil, len(want)-1); ok {
		t.Fatal("AppendJSON past its limit said ok")
	}
}
