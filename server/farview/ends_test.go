package farview

import (
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
)

// TestEncodeBigEnds: the schema lets an editor store any JSON as a
// connector's end, up to a message's size. Encode does not parse an end
// over MaxEndJSON (its connector is not drawn: no real end is that long),
// and counts the bytes of every end it read, so that the room can charge
// them to the board's read budget: parsing a hundred such connectors took
// over half a second, charged as a hundred elements.
func TestEncodeBigEnds(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", 100_000) + `","x":5,"y":6}`
	small := `{"x":1,"y":2}`
	d := build(t, func(tx *crdt.Tx) {
		for i, ends := range [][2]string{{big, small}, {small, big}, {small, `{"x":300,"y":400}`}} {
			id := eid(i + 1)
			must(t, tx.Create(id, "connector"))
			must(t, tx.Set(id, "from", jsonValue(t, ends[0])))
			must(t, tx.Set(id, "to", jsonValue(t, ends[1])))
		}
	})
	b, read := EncodeCounted(d)
	s, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Items) != 1 || s.Items[0].Op != OpLine || s.Items[0].X != 1 || s.Items[0].Y != 2 || s.Items[0].W != 299 || s.Items[0].H != 398 {
		t.Errorf("items %+v: want the one connector whose ends are of a normal size", s.Items)
	}
	if want := 2*len(jsonValue(t, big).String()) + 4*len(small); read < want {
		t.Errorf("read %d bytes of ends, want at least %d (every end's JSON)", read, want)
	}
}

// BenchmarkEncodeBigEnds: the worst case of connector ends, a board of
// 100 connectors whose ends are each 500 kB of JSON (as much as a change
// may carry), 100 MB in all.
func BenchmarkEncodeBigEnds(b *testing.B) {
	big := `{"pad":"` + strings.Repeat("x", 500_000) + `","x":5,"y":6}`
	d := build(b, func(tx *crdt.Tx) {
		for i := range 100 {
			id := eid(i + 1)
			must(b, tx.Create(id, "connector"))
			must(b, tx.Set(id, "from", jsonValue(b, big)))
			must(b, tx.Set(id, "to", jsonValue(b, big)))
		}
	})
	b.ResetTimer()
	for range b.N {
		Encode(d)
	}
}
