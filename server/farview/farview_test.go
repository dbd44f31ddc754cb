package farview

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

func eid(n int) crdt.ElementID {
	var id crdt.ElementID
	id[15] = byte(n)
	id[14] = byte(n >> 8)
	id[13] = byte(n >> 16)
	id[0] = 0x40
	return id
}

// build applies fn in one transaction on a new doc.
func build(t testing.TB, fn func(tx *crdt.Tx)) *crdt.Doc {
	t.Helper()
	d := crdt.NewDoc()
	tx := d.Begin(1, time.Now().UnixMilli())
	fn(&tx)
	if _, ok := tx.Commit(); !ok {
		t.Fatal("commit failed")
	}
	return d
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func jsonValue(t testing.TB, s string) crdt.Value {
	v, err := crdt.JSONValue([]byte(s))
	must(t, err)
	return v
}

func box4(t testing.TB, tx *crdt.Tx, id crdt.ElementID, kind string, x, y, w, h float64) {
	must(t, tx.Create(id, kind))
	for k, v := range map[string]float64{"x": x, "y": y, "w": w, "h": h} {
		must(t, tx.Set(id, k, crdt.Number(v)))
	}
}

// TestEncode checks what each kind becomes, what is left out (deleted,
// under a deleted frame, under a collapsed mindmap node, comments), and
// that Decode reads back what Encode wrote.
func TestEncode(t *testing.T) {
	d := build(t, func(tx *crdt.Tx) {
		box4(t, tx, eid(1), "note", 10, 20, 200, 100)
		must(t, tx.Set(eid(1), "color", crdt.String("pink")))
		box4(t, tx, eid(2), "shape", -500, 40, 50, 60) // transparent fill: its outline
		box4(t, tx, eid(3), "note", 0, 0, 10, 10)
		must(t, tx.Delete(eid(3)))
		box4(t, tx, eid(4), "frame", 1000, 1000, 800, 600)
		box4(t, tx, eid(5), "note", 1100, 1100, 100, 100) // inside the frame
		must(t, tx.Move(eid(5), eid(4), "a0"))
		box4(t, tx, eid(6), "frame", 3000, 3000, 100, 100) // deleted, with a child
		box4(t, tx, eid(7), "note", 3010, 3010, 10, 10)
		must(t, tx.Move(eid(7), eid(6), "a0"))
		must(t, tx.Delete(eid(6)))
		// A mindmap: root at 0, 500 with two children; the second collapsed, with a hidden child.
		must(t, tx.Create(eid(10), "mindmap"))
		must(t, tx.Set(eid(10), "x", crdt.Number(0)))
		must(t, tx.Set(eid(10), "y", crdt.Number(500)))
		must(t, tx.InsertText(eid(10), "text", 0, "Topic"))
		for i, id := range []crdt.ElementID{eid(11), eid(12)} {
			must(t, tx.Create(id, "mindmap"))
			must(t, tx.Move(id, eid(10), fmt.Sprintf("a%d", i)))
		}
		must(t, tx.Set(eid(12), "collapsed", crdt.Bool(true)))
		must(t, tx.Create(eid(13), "mindmap"))
		must(t, tx.Move(eid(13), eid(12), "a0"))
		// Connectors: note 1 to a free point; to a deleted note (not drawn).
		must(t, tx.Create(eid(20), "connector"))
		must(t, tx.Set(eid(20), "from", jsonValue(t, `{"el":"`+eid(1).String()+`","anchor":[0.5,0.5]}`)))
		must(t, tx.Set(eid(20), "to", jsonValue(t, `{"x":110,"y":600}`)))
		must(t, tx.Create(eid(21), "connector"))
		must(t, tx.Set(eid(21), "from", jsonValue(t, `{"el":"`+eid(1).String()+`"}`)))
		must(t, tx.Set(eid(21), "to", jsonValue(t, `{"el":"`+eid(3).String()+`"}`)))
		must(t, tx.Create(eid(30), "comment"))
		box4(t, tx, eid(31), "text", 0, 0, 100, 40) // no text: nothing drawn
		box4(t, tx, eid(32), "text", 0, 0, 100, 40)
		must(t, tx.InsertText(eid(32), "text", 0, "hi"))
	})
	s, err := Decode(Encode(d))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		op         byte
		style      string
		x, y, w, h int64
	}
	var items []got
	for _, it := range s.Items {
		items = append(items, got{it.Op, s.Styles[it.Style], it.X, it.Y, it.W, it.H})
	}
	want := map[got]bool{
		{OpFill, "pink", 10, 20, 200, 100}:             true,
		{OpOutline, "#1e1e1e", -500, 40, 50, 60}:       true,
		{OpFrame, "transparent", 1000, 1000, 800, 600}: true,
		{OpFill, "yellow", 1100, 1100, 100, 100}:       true,
		{OpFill, textBar, 0, 10, 100, 20}:              true,
		{OpLine, "#1e1e1e", 110, 120, 0, 480}:          true, // cut at the note's bottom side
	}
	for _, g := range items {
		if want[g] {
			delete(want, g)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing items %v in %v", want, items)
	}
	// Mindmap: the root and its two children, fill and outline each (4 + 2 above + ...).
	var mm []got
	for _, g := range items {
		if g.style == "#e7f5ff" {
			mm = append(mm, g)
		}
	}
	if len(mm) != 3 {
		t.Fatalf("mindmap nodes drawn: %v, want the root and two children (the collapsed node's child hidden)", mm)
	}
	root, c1, c2 := mm[0], mm[1], mm[2]
	if root.x != 0 || c1.x <= root.x+root.w || c1.x != c2.x || c1.y >= c2.y || c1.y+c1.h > c2.y {
		t.Errorf("mindmap layout: root %v children %v %v", root, c1, c2)
	}
	if mid := root.y + root.h/2; mid < c1.y+c1.h || mid > c2.y {
		t.Errorf("the root (%v) is not between its children (%v, %v)", root, c1, c2)
	}
	// 1 note, 1 shape, 1 frame, 1 framed note, 3 mindmap fills + 3 outlines, 1 connector, 1 text.
	if len(items) != 12 {
		t.Errorf("%d items, want 12: %v", len(items), items)
	}
}

// TestEncodeWorstCase: the largest summary an element can cost (far
// coordinates, a mindmap node's two items), a mindmap chain as deep as the
// layout goes, and a board past MaxBytes, which gets no summary at all.
func TestEncodeWorstCase(t *testing.T) {
	const n = 2000
	d := build(t, func(tx *crdt.Tx) {
		for i := range n {
			must(t, tx.Create(eid(i+1), "mindmap"))
			must(t, tx.Set(eid(i+1), "x", crdt.Number(float64(i%2*2-1)*1e300)))
			must(t, tx.Set(eid(i+1), "y", crdt.Number(float64(i%2*2-1)*-1e300)))
			must(t, tx.Set(eid(i+1), "color", crdt.String("#123456")))
		}
	})
	worst := d
	b := Encode(d)
	s, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Items) != 2*n {
		t.Fatalf("%d items, want %d", len(s.Items), 2*n)
	}
	if per := float64(len(b)) / n; per > 48 {
		t.Errorf("%.1f bytes an element, want at most 48", per)
	}
	for _, it := range s.Items {
		if it.X < -maxCoord || it.X > maxCoord {
			t.Fatalf("coordinate %d not clamped", it.X)
		}
	}

	// A chain of mindmap nodes as deep as the tree goes (the crdt allows 64 levels).
	const deep = 64
	d = build(t, func(tx *crdt.Tx) {
		must(t, tx.Create(eid(1), "mindmap"))
		for i := 2; i <= deep; i++ {
			must(t, tx.Create(eid(i), "mindmap"))
			must(t, tx.Move(eid(i), eid(i-1), "a0"))
		}
	})
	s, err = Decode(Encode(d))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Items) != 2*deep {
		t.Errorf("deep chain: %d items, want %d", len(s.Items), 2*deep)
	}

	// More colours than a decoder takes: none.
	colourful := crdt.NewDoc()
	tx := colourful.Begin(1, time.Now().UnixMilli())
	for i := range MaxStyles + 1 {
		box4(t, &tx, eid(i+1), "note", 0, 0, 10, 10)
		must(t, tx.Set(eid(i+1), "color", crdt.String(fmt.Sprintf("#%06x", i))))
	}
	if _, ok := tx.Commit(); !ok {
		t.Fatal("commit failed")
	}
	if b := Encode(colourful); b != nil {
		t.Errorf("%d colours: a summary of %d bytes, want none", MaxStyles+1, len(b))
	}

	// Past the limit (MaxBytes, lowered here): none. The first test's
	// board takes about 20 bytes an element.
	defer func(l int) { limit = l }(limit)
	limit = 20 * n / 2
	if b := Encode(worst); b != nil {
		t.Errorf("a summary of %d bytes, want none past %d", len(b), limit)
	}
}

// TestDecodeRejects: truncations and corruptions of a valid summary are
// errors (never a panic; FuzzDecode goes further).
func TestDecodeRejects(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	d := build(t, func(tx *crdt.Tx) {
		for i := range 50 {
			box4(t, tx, eid(i+1), "note", float64(i*260), 0, 200, 200)
		}
	})
	b := Encode(d)
	for cut := range len(b) {
		if _, err := Decode(b[:cut]); err == nil {
			t.Fatalf("a summary cut at %d of %d decoded", cut, len(b))
		}
	}
	if _, err := Decode(append(append([]byte{}, b...), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	for range 2000 {
		c := append([]byte{}, b...)
		c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
		_, _ = Decode(c) // must not panic
	}
}

func FuzzDecode(f *testing.F) {
	d := build(f, func(tx *crdt.Tx) {
		box4(f, tx, eid(1), "note", 10, 20, 200, 100)
		box4(f, tx, eid(2), "frame", -10, -20, 2000, 1000)
	})
	f.Add(Encode(d))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 1, 6, 'y', 'e', 'l', 'l', 'o', 'w', 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		if len(s.Items) > len(b)/5 {
			t.Fatalf("%d items from %d bytes", len(s.Items), len(b))
		}
		for _, it := range s.Items {
			if it.Style >= len(s.Styles) || it.X < -maxCoord || it.X > maxCoord {
				t.Fatalf("item %+v out of range", it)
			}
		}
	})
}

// BenchmarkEncode100k: the summary of a board like bench/web's 100,000
// elements (notes, shapes, strokes, mindmap trees, connectors).
func BenchmarkEncode100k(b *testing.B) {
	d := crdt.NewDoc()
	tx0 := d.Begin(1, time.Now().UnixMilli())
	tx := &tx0
	commit := func() {
		if _, ok := tx.Commit(); !ok {
			b.Fatal("commit failed")
		}
	}
	{
		prev := crdt.ElementID{}
		for i := 0; i < 100000; {
			if tx.Len() > 60000 {
				commit()
				next := d.Begin(1, time.Now().UnixMilli())
				tx = &next
			}
			id := eid(i + 1)
			x, y := float64(i%317*260), float64(i/317*260)
			switch {
			case i%50 == 0:
				must(b, tx.Create(id, "mindmap"))
				must(b, tx.Set(id, "x", crdt.Number(x)))
				must(b, tx.Set(id, "y", crdt.Number(y)))
				must(b, tx.InsertText(id, "text", 0, "Topic"))
				for c := range 3 {
					cid := eid(i + 2 + c)
					must(b, tx.Create(cid, "mindmap"))
					must(b, tx.Move(cid, id, fmt.Sprintf("a%d", c)))
					must(b, tx.InsertText(cid, "text", 0, "idea"))
				}
				i += 3
			case i%25 == 1 && prev != crdt.ElementID{}:
				must(b, tx.Create(id, "connector"))
				must(b, tx.Set(id, "from", jsonValue(b, `{"el":"`+prev.String()+`","anchor":[0.5,0.5]}`)))
				must(b, tx.Set(id, "to", jsonValue(b, fmt.Sprintf(`{"x":%g,"y":%g}`, x+100, y+100))))
			default:
				box4(b, tx, id, "note", x, y, 200, 200)
			}
			prev = id
			i++
		}
		commit()
	}
	t0 := time.Now()
	sn := d.Snapshot()
	t1 := time.Now()
	raw := d.SnapshotRaw()
	t2 := time.Now()
	fv := Encode(d)
	b.Logf("packed %d bytes %v, raw %d bytes %v, farview %d bytes %v", len(sn), t1.Sub(t0), len(raw), t2.Sub(t1), len(fv), time.Since(t2))
	b.ResetTimer()
	var n int
	for range b.N {
		n = len(Encode(d))
	}
	b.ReportMetric(float64(n), "bytes")
}
