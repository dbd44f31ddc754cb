package crdt

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// A change decoded into a reused buffer and held must keep its ops when
// the buffer is overwritten by the next decode.
func TestDecodeChangeIntoHeldKeepsItsOps(t *testing.T) {
	src := NewDoc()
	tx := src.Begin(1, 0)
	must(t, tx.Create(benchElem(1), "note"))
	must(t, tx.InsertText(benchElem(1), "text", 0, "hello"))
	c1, _ := tx.Commit()
	tx = src.Begin(1, 0)
	must(t, tx.InsertText(benchElem(1), "text", 5, " world"))
	must(t, tx.Set(benchElem(1), "x", Number(7)))
	c2, _ := tx.Commit()
	b1, b2 := c1.AppendBinary(nil), c2.AppendBinary(nil)

	d := NewDoc()
	buf := make([]Op, 0, 8)
	c, err := DecodeChangeInto(b2, buf)
	must(t, err)
	if &c.Ops[0] != &buf[:1][0] {
		t.Fatal("DecodeChangeInto did not decode into the buffer")
	}
	if st, _, err := d.Apply(c); err != nil || st != Held {
		t.Fatalf("second change first: %v %v, want held", st, err)
	}
	c, err = DecodeChangeInto(b1, buf) // overwrites the held change's ops in buf
	must(t, err)
	st, applied, err := d.Apply(c)
	if err != nil || st != Applied || len(applied) != 2 {
		t.Fatalf("first change: %v %d %v, want applied with the held one released", st, len(applied), err)
	}
	if got, want := d.Text(benchElem(1), "text"), "hello world"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if v, _ := d.Get(benchElem(1), "x"); v != Number(7) {
		t.Fatalf("x = %v, want 7", v)
	}
	if !slices.Equal(applied[1].Ops, c2.Ops) {
		t.Fatalf("released change %+v, want %+v", applied[1].Ops, c2.Ops)
	}
}

// Changes made with BeginInto on one reused buffer, each encoded at once,
// rebuild the same doc elsewhere; a property write allocates nothing.
func TestBeginIntoReusesTheBuffer(t *testing.T) {
	d, other := NewDoc(), NewDoc()
	var buf []Op
	send := func(c Change) {
		t.Helper()
		dc, err := DecodeChange(c.AppendBinary(nil))
		must(t, err)
		if st, _, err := other.Apply(dc); err != nil || st != Applied {
			t.Fatalf("apply: %v %v", st, err)
		}
		buf = c.Ops
	}
	tx := d.BeginInto(1, 0, buf)
	must(t, tx.Create(benchElem(1), "shape"))
	must(t, tx.Set(benchElem(1), "x", Number(1)))
	c, _ := tx.Commit()
	send(c)
	first := &buf[0]
	for i := range 20 {
		tx := d.BeginInto(1, 0, buf)
		must(t, tx.Set(benchElem(1), "x", Number(float64(i))))
		c, _ := tx.Commit()
		if &c.Ops[0] != first {
			t.Fatal("BeginInto did not reuse the buffer")
		}
		send(c)
	}
	if string(d.Snapshot()) != string(other.Snapshot()) {
		t.Fatal("the docs differ")
	}
	allocs := testing.AllocsPerRun(100, func() {
		tx := d.BeginInto(1, 0, buf)
		tx.Set(benchElem(1), "y", Number(2))
		c, _ := tx.Commit()
		buf = c.Ops
	})
	if allocs != 0 {
		t.Fatalf("a property write with BeginInto allocates %.1f times, want 0", allocs)
	}
	// And the remote side: decode into a buffer, apply.
	src, dst := NewDoc(), NewDoc()
	tx = src.Begin(2, 0)
	must(t, tx.Create(benchElem(2), "shape"))
	c, _ = tx.Commit()
	if st, _, err := dst.Apply(c); err != nil || st != Applied {
		t.Fatalf("apply: %v %v", st, err)
	}
	enc := make([][]byte, 0, 101)
	for i := range 101 {
		tx := src.BeginInto(2, 0, buf)
		must(t, tx.Set(benchElem(2), "y", Number(float64(i))))
		c, _ := tx.Commit()
		enc = append(enc, c.AppendBinary(nil))
		buf = c.Ops
	}
	var rbuf []Op
	next := 0
	allocs = testing.AllocsPerRun(100, func() {
		c, err := DecodeChangeInto(enc[next], rbuf)
		next++
		if err != nil {
			t.Fatal(err)
		}
		if st, _, err := dst.Apply(c); err != nil || st != Applied {
			t.Fatalf("apply: %v %v", st, err)
		}
		rbuf = c.Ops
	})
	if allocs != 0 {
		t.Fatalf("decoding and applying a property write allocates %.1f times, want 0", allocs)
	}
}

// Property lookups go through one-byte key fingerprints (element.pfp):
// random keys, many of them colliding, written, read and snapshotted
// against a map.
func TestPropFingerprintsDifferential(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	// Keys of few lengths and letters: fingerprints collide often.
	key := func() string {
		b := make([]byte, 1+rng.IntN(3))
		for i := range b {
			b[i] = "abcxyz"[rng.IntN(6)]
		}
		return string(b)
	}
	for round := range 50 {
		d := NewDoc()
		tx := d.Begin(1, 0)
		must(t, tx.Create(benchElem(1), "shape"))
		tx.Commit()
		ref := map[string]float64{}
		for i := range 1 + rng.IntN(40) {
			k := key()
			tx := d.Begin(1, 0)
			must(t, tx.Set(benchElem(1), k, Number(float64(i))))
			tx.Commit()
			ref[k] = float64(i)
		}
		loaded, err := LoadSnapshot(d.Snapshot())
		must(t, err)
		for _, doc := range []*Doc{d, loaded} {
			for range 100 {
				k := key()
				v, ok := doc.Get(benchElem(1), k)
				want, wantOK := ref[k]
				if ok != wantOK || (ok && v != Number(want)) {
					t.Fatalf("round %d: %q = %v %t, want %v %t", round, k, v, ok, want, wantOK)
				}
			}
			if n := len(doc.elems[benchElem(1)].props); n != len(ref) {
				t.Fatalf("round %d: %d properties, want %d", round, n, len(ref))
			}
		}
		// A write after loading lands on the loaded register.
		k := strconv.Itoa(round % 3)
		tx = loaded.Begin(1, 0)
		must(t, tx.Set(benchElem(1), k, Number(-1)))
		tx.Commit()
		if v, _ := loaded.Get(benchElem(1), k); v != Number(-1) {
			t.Fatalf("round %d: write after load: %v", round, v)
		}
	}
}
