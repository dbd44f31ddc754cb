package crdt

import "testing"

// benchBoard builds a whiteboard of n elements with 8 properties and a
// short text each.
func benchBoard(b *testing.B, n int) *Doc {
	d := NewDoc()
	for i := 0; i < n; i++ {
		tx := d.Begin(1, int64(1_700_000_000_000+i))
		must(b, tx.Create(benchElem(i), "note"))
		for j, k := range []string{"x", "y", "w", "h", "rot"} {
			must(b, tx.Set(benchElem(i), k, Number(float64(i*7+j)/100)))
		}
		must(b, tx.Set(benchElem(i), "color", String("yellow")))
		must(b, tx.Set(benchElem(i), "z", String("a0")))
		must(b, tx.InsertText(benchElem(i), "text", 0, "an idea"))
		tx.Commit()
	}
	return d
}

func BenchmarkSnapshotEncode(b *testing.B) {
	d := benchBoard(b, 50000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.ReportMetric(float64(len(d.Snapshot())), "bytes")
	}
}

func BenchmarkSnapshotLoad(b *testing.B) {
	snap := benchBoard(b, 50000).Snapshot()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := LoadSnapshot(snap); err != nil {
			b.Fatal(err)
		}
	}
}
