package protocol

import (
	"reflect"
	"testing"

	"github.com/corkboard/corkboard/crdt"
)

func TestMergeOpsOut(t *testing.T) {
	mk := func(start uint64) crdt.Change {
		var e crdt.ElementID
		e[0] = byte(start)
		return crdt.Change{Replica: 9, Start: start, Time: 100, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: e, Key: "note"}}}
	}
	a := []crdt.Change{mk(1), mk(2)}
	b := []crdt.Change{mk(3)}
	enc := func(cs []crdt.Change) []byte {
		var bs [][]byte
		for _, c := range cs {
			bs = append(bs, c.AppendBinary(nil))
		}
		return EncodeOpsOut(bs)
	}
	merged, err := MergeOpsOut([][]byte{enc(a), enc(b)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeOpsOut(merged)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(a, b...); !reflect.DeepEqual(got, want) {
		t.Fatalf("merged = %+v, want %+v", got, want)
	}
	if _, err := MergeOpsOut([][]byte{enc(a), {TagSnapshot, 1}}); err == nil {
		t.Fatal("merged a snapshot message")
	}
	if _, err := MergeOpsOut([][]byte{{TagOpsOut}}); err == nil {
		t.Fatal("merged a message without a count")
	}
}
