package crdt

import (
	"encoding/binary"
	"testing"
)

func benchElem(i int) ElementID {
	var e ElementID
	e[0] = 0xe1
	binary.BigEndian.PutUint64(e[8:], uint64(i))
	return e
}

// BenchmarkLocalSet: one property write per change, the whiteboard hot path.
func BenchmarkLocalSet(b *testing.B) {
	d := NewDoc()
	const n = 100000
	for i := 0; i < n; i++ {
		tx := d.Begin(1, 0)
		must(b, tx.Create(benchElem(i), "shape"))
		for _, k := range []string{"x", "y", "w", "h", "rot", "fill", "z", "type"} {
			must(b, tx.Set(benchElem(i), k, Number(1)))
		}
		tx.Commit()
	}
	keys := []string{"x", "y", "w", "h", "rot", "fill", "z"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx := d.Begin(1, 0)
		// A stride through the elements, like the whiteboard workload's
		// random updates: most touch memory not in cache.
		if err := tx.Set(benchElem((i*7919)%n), keys[i%7], Number(float64(i))); err != nil {
			b.Fatal(err)
		}
		tx.Commit()
	}
}

// BenchmarkRemoteSet: decode and apply one remote property write.
func BenchmarkRemoteSet(b *testing.B) {
	src := NewDoc()
	tx := src.Begin(1, 0)
	tx.Create(benchElem(0), "shape")
	first, _ := tx.Commit()
	var enc [][]byte
	for i := 0; i < 10000; i++ {
		tx := src.Begin(1, 0)
		tx.Set(benchElem(0), "x", Number(float64(i)))
		c, _ := tx.Commit()
		enc = append(enc, c.AppendBinary(nil))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var d *Doc
	for i := 0; i < b.N; i++ {
		if i%len(enc) == 0 {
			b.StopTimer()
			d = NewDoc()
			d.Apply(first)
			b.StartTimer()
		}
		c, err := DecodeChange(enc[i%len(enc)])
		if err != nil {
			b.Fatal(err)
		}
		d.Apply(c)
	}
}

// BenchmarkApplyBigChange: one change that creates 10,000 elements with
// three properties each (an import, a pasted board, a big batch of the
// write API), checked and applied by another replica as the node does. Its
// cost must grow with the ops, not with their square: the room's goroutine
// runs it, and one client can send such a change.
func BenchmarkApplyBigChange(b *testing.B) {
	const n = 10000
	src := NewDoc()
	tx := src.Begin(1, 0)
	for i := range n {
		must(b, tx.Create(benchElem(i), "note"))
		must(b, tx.Set(benchElem(i), "x", Number(float64(i))))
		must(b, tx.Set(benchElem(i), "y", Number(float64(i))))
		must(b, tx.Set(benchElem(i), "color", String("yellow")))
	}
	c, _ := tx.Commit()
	b.ReportAllocs()
	for b.Loop() {
		d := NewDoc()
		if err := d.Check(&c); err != nil {
			b.Fatal(err)
		}
		if st, _, err := d.Apply(c); err != nil || st != Applied {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(len(c.Ops)), "ops/change")
}

// BenchmarkCheckChainedInserts: Check of one change of 60,000 one-character
// inserts, each after the one before (a 763 KB message: one change for the
// rate limits), as the room checks a client's change; interleaved, every
// other op goes to a second field, so each field's characters are 30,000
// separate runs. Its cost must grow with the ops, not with their square.
func BenchmarkCheckChainedInserts(b *testing.B) {
	const n = 60000
	var el ElementID
	el[0] = 9
	for _, interleave := range []bool{false, true} {
		name := "chained"
		if interleave {
			name = "interleaved"
		}
		b.Run(name, func(b *testing.B) {
			d := NewDoc()
			tx := d.Begin(1, 100)
			must(b, tx.Create(el, "note"))
			tx.Commit()
			c := chainedInserts(el, 1, n, interleave)
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Check(&c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(c.Ops)), "ops/change")
		})
	}
}
