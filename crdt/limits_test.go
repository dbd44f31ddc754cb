package crdt

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestDecodeRefusesUnsafeIntegers: an integer (0x04) or a decimal mantissa
// (0x05) of 2^53 or more in absolute value cannot be held by a double; the
// decoder refuses it as malformed instead of rounding it (which would ack a
// value other than the one the sender has).
func TestDecodeRefusesUnsafeIntegers(t *testing.T) {
	enc := func(tag byte, scale byte, n int64) []byte {
		b := []byte{tag}
		if tag == 5 {
			b = append(b, scale)
		}
		return binary.AppendVarint(b, n)
	}
	for _, tc := range []struct {
		data []byte
		ok   bool
		want float64
	}{
		{enc(4, 0, 1<<53-1), true, 1<<53 - 1},
		{enc(4, 0, -(1<<53 - 1)), true, -(1<<53 - 1)},
		{enc(4, 0, 1<<53), false, 0},
		{enc(4, 0, 1<<53+1), false, 0},
		{enc(4, 0, -(1 << 53)), false, 0},
		{enc(4, 0, math.MaxInt64), false, 0},
		{enc(4, 0, math.MinInt64), false, 0},
		{enc(5, 2, 1<<53-1), true, float64(1<<53-1) / 100},
		{enc(5, 2, 1<<53+1), false, 0},
		{enc(5, 1, -(1<<53 + 1)), false, 0},
	} {
		r := reader{b: tc.data}
		v, err := r.value()
		if (err == nil) != tc.ok {
			t.Errorf("% x: err = %v, want ok=%v", tc.data, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v is not ErrMalformed", tc.data, err)
		}
		if err == nil && v.AsNumber() != tc.want {
			t.Errorf("% x: %v, want %v", tc.data, v.AsNumber(), tc.want)
		}
	}
	// In a whole change, too: the change is refused, not rounded.
	c := Change{Replica: 7, Start: 1, Time: 1, Ops: []Op{{Type: OpSet, Element: ElementID{1}, Key: "x", Value: Number(1)}}}
	b := c.AppendBinary(nil)
	i := len(b) - 2 // the value: 04 02 (zigzag 1)
	if b[i] != 4 {
		t.Fatalf("value tag at %d is %#x, want 0x04: % x", i, b[i], b)
	}
	bad := enc(4, 0, 1<<53+1)
	b = append(b[:i:i], bad...)
	if _, err := DecodeChange(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("change with 2^53+1: err = %v, want ErrMalformed", err)
	}
}

// FuzzValue: whatever value decodes is a number a double holds exactly,
// and encodes back to a value that decodes to the same bits.
func FuzzValue(f *testing.F) {
	f.Add([]byte{4, 2})
	f.Add(binary.AppendVarint([]byte{4}, 1<<53))
	f.Add(binary.AppendVarint([]byte{5, 3}, -(1<<53 - 1)))
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f})
	f.Add([]byte{6, 2, 'h', 'i'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := reader{b: data}
		v, err := r.value()
		if err != nil {
			return
		}
		if v.Kind() == KindNumber {
			n := v.AsNumber()
			if math.IsNaN(n) || math.IsInf(n, 0) {
				t.Fatalf("decoded a non-finite number from % x", data)
			}
			if len(data) > 0 && data[0] == 4 && math.Abs(n) >= 1<<53 {
				t.Fatalf("integer %v of 2^53 or more decoded from % x", n, data)
			}
		}
		r2 := reader{b: appendValue(nil, v)}
		v2, err := r2.value()
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if v.Kind() != v2.Kind() || v.str != v2.str || math.Float64bits(v.num) != math.Float64bits(v2.num) {
			t.Fatalf("round trip: %#v -> %#v", v, v2)
		}
	})
}

// TestSchemaColours: colour properties take the forms docs/SCHEMA.md gives
// and nothing else, on every kind with a colour.
func TestSchemaColours(t *testing.T) {
	d := NewDoc()
	var note, shape, frame ElementID
	note[0], shape[0], frame[0] = 1, 2, 3
	tx := d.Begin(1, 100)
	must(t, tx.Create(note, "note"))
	must(t, tx.Create(shape, "shape"))
	must(t, tx.Create(frame, "frame"))
	tx.Commit()
	good := []Value{String("#1e1e1e"), String("#FFCC00"), String("#ffcc0080"), String("transparent"), Null()}
	for _, p := range Palette {
		good = append(good, String(p))
	}
	bad := []Value{String(""), String("red"), String("#fff"), String("#ggg000"), String("#1e1e1e0"), String("rgb(1,2,3)"),
		String("url(https://evil.example/x)"), String("#1e1e1e;background:url(x)"), String("Yellow"), String(strings.Repeat("y", 1000)),
		Number(3), Bool(true)}
	for _, el := range []struct {
		id  ElementID
		key string
	}{{note, "color"}, {shape, "fill"}, {shape, "stroke"}, {frame, "fill"}} {
		for _, v := range good {
			c := Change{Replica: 2, Start: 1, Time: 1, Ops: []Op{{Type: OpSet, Element: el.id, Key: el.key, Value: v}}}
			if err := d.CheckSchema(&c); err != nil {
				t.Errorf("%s = %v refused: %v", el.key, v, err)
			}
		}
		for _, v := range bad {
			c := Change{Replica: 2, Start: 1, Time: 1, Ops: []Op{{Type: OpSet, Element: el.id, Key: el.key, Value: v}}}
			err := d.CheckSchema(&c)
			if !errors.Is(err, ErrSchema) {
				t.Errorf("%s = %v: err = %v, want ErrSchema", el.key, v, err)
				continue
			}
			if v.Kind() == KindString && !strings.Contains(err.Error(), "#rrggbb") {
				t.Errorf("%s = %v: error %q does not say what a colour is", el.key, v, err)
			}
		}
	}
	// A kind this version does not know keeps any colour (forward compatibility).
	var future ElementID
	future[0] = 9
	c := Change{Replica: 2, Start: 1, Time: 1, Ops: []Op{{Type: OpCreate, Element: future, Key: "hologram"},
		{Type: OpSet, Element: future, Key: "color", Value: String("infrared")}}}
	if err := d.CheckSchema(&c); err != nil {
		t.Errorf("unknown kind's colour refused: %v", err)
	}
}

// TestHeldAccounting: HeldBytes and HeldOf follow held changes as they are
// held, released, dropped, and loaded from a snapshot. The seed is logged.
func TestHeldAccounting(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	src := NewDoc()
	var el ElementID
	el[0] = 1
	tx := src.Begin(1, 100)
	must(t, tx.Create(el, "note"))
	create, _ := tx.Commit()
	var changes []Change
	for i := range 20 {
		tx := src.Begin(ReplicaID(2+i%3), int64(200+i))
		must(t, tx.Set(el, "x", String(strings.Repeat("v", rng.IntN(5000)))))
		c, _ := tx.Commit()
		changes = append(changes, c)
	}
	d := NewDoc()
	sum := func() (n, bytes int) {
		for _, rep := range []ReplicaID{2, 3, 4} {
			k, b := d.HeldOf(rep)
			n, bytes = n+k, bytes+b
		}
		return
	}
	want := 0
	for _, c := range rng.Perm(len(changes)) {
		st, _, err := d.Apply(changes[c])
		if err != nil || st != Held {
			t.Fatalf("change %d: %v %v, want held (no element yet)", c, st, err)
		}
		want += HeldSize(&changes[c])
		if n, b := sum(); n != d.Held() || b != d.HeldBytes() || b != want {
			t.Fatalf("after holding %d: HeldOf sums to %d/%d, Held %d, HeldBytes %d, want %d", c, n, b, d.Held(), d.HeldBytes(), want)
		}
	}
	if d.HeldBytes() < 20*heldOpOverhead {
		t.Fatalf("HeldBytes %d below the ops' own size", d.HeldBytes())
	}
	// A snapshot keeps held changes, and their tally.
	d2, err := LoadSnapshot(d.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if d2.Held() != d.Held() || d2.HeldBytes() != d.HeldBytes() {
		t.Fatalf("snapshot: held %d/%d bytes, want %d/%d", d2.Held(), d2.HeldBytes(), d.Held(), d.HeldBytes())
	}
	// TrimHeld keeps within a count and a byte budget, largest first.
	d3, _ := LoadSnapshot(d.Snapshot())
	if n := d3.TrimHeld(15, 1<<40); n != 5 || d3.Held() != 15 {
		t.Fatalf("TrimHeld(15): dropped %d, %d held", n, d3.Held())
	}
	budget := d3.HeldBytes() / 2
	d3.TrimHeld(100, budget)
	if d3.HeldBytes() > budget || d3.Held() == 0 {
		t.Fatalf("TrimHeld(bytes %d): %d bytes, %d held", budget, d3.HeldBytes(), d3.Held())
	}
	// Dropping one takes it out of the tally and out of what waits.
	victim := changes[rng.IntN(len(changes))]
	if !d2.DropHeld(victim.Replica, victim.Start) || d2.DropHeld(victim.Replica, victim.Start) {
		t.Fatal("DropHeld: want true once, then false")
	}
	if d2.Held() != d.Held()-1 || d2.HeldBytes() != d.HeldBytes()-HeldSize(&victim) {
		t.Fatalf("after DropHeld: %d/%d", d2.Held(), d2.HeldBytes())
	}
	// The element arrives: everything is released, the tally is zero (in
	// d2 once the dropped change arrives again: later changes of its
	// replica wait for its counters).
	for i, x := range []*Doc{d, d2} {
		if _, _, err := x.Apply(create); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if st, _, _ := x.Apply(victim); st != Applied {
				t.Fatalf("dropped change sent again: %v, want applied", st)
			}
		}
		if x.Held() != 0 || x.HeldBytes() != 0 {
			t.Fatalf("doc %d after release: held %d, %d bytes", i, x.Held(), x.HeldBytes())
		}
		for _, rep := range []ReplicaID{2, 3, 4} {
			if n, b := x.HeldOf(rep); n != 0 || b != 0 {
				t.Fatalf("replica %v still tallied %d/%d", rep, n, b)
			}
		}
	}
	if string(d.Snapshot()) != string(d2.Snapshot()) {
		t.Fatal("the doc that dropped and got a change again differs")
	}
}

// TestSnapshotRawApplied: the applied-only snapshot of a doc holding
// changes loads to the same applied state with nothing held, and is what
// the full snapshot of that loaded doc is.
func TestSnapshotRawApplied(t *testing.T) {
	src := NewDoc()
	var el ElementID
	el[0] = 1
	tx := src.Begin(1, 100)
	must(t, tx.Create(el, "note"))
	create, _ := tx.Commit()
	tx = src.Begin(2, 200)
	must(t, tx.Set(el, "x", Number(1)))
	waits, _ := tx.Commit()
	other := NewDoc()
	tx = other.Begin(3, 300)
	var el2 ElementID
	el2[0] = 2
	must(t, tx.Create(el2, "frame"))
	own, _ := tx.Commit()

	d := NewDoc()
	for _, c := range []Change{own, waits} {
		if _, _, err := d.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	if d.Held() != 1 {
		t.Fatalf("%d held, want 1 (the premise)", d.Held())
	}
	a, err := LoadSnapshot(d.SnapshotRawApplied())
	if err != nil {
		t.Fatal(err)
	}
	if a.Held() != 0 || !a.Has(OpID{3, 1}) || a.VersionOf(2) != 0 {
		t.Fatalf("applied-only snapshot: %d held, version %v", a.Held(), a.Version())
	}
	if string(a.SnapshotRaw()) != string(d.SnapshotRawApplied()) {
		t.Fatal("the applied-only snapshot is not the loaded doc's snapshot")
	}
	if full, _ := LoadSnapshot(d.SnapshotRaw()); full.Held() != 1 {
		t.Fatalf("the full snapshot lost its held change: %d held", full.Held())
	}
	if _, applied, _ := a.Apply(create); len(applied) != 1 {
		t.Fatalf("the create released %d changes in the applied-only doc, want none", len(applied)-1)
	}
}
