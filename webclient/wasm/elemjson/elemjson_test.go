package elemjson

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
)

// same reports whether two JSON texts hold the same value.
func same(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func id(n int) crdt.ElementID {
	e, err := crdt.ParseElementID(fmt.Sprintf("01900000-0000-7000-8000-%012x", n))
	if err != nil {
		panic(err)
	}
	return e
}

// board builds a doc with every part an element can have: properties of
// each value type, text with characters JSON must escape, votes, a parent
// and position, a tombstone.
func board(t testing.TB, text, key, str string) *crdt.Doc {
	d := crdt.NewDoc()
	r, err := crdt.ParseReplicaID("00000000000000a1")
	if err != nil {
		t.Fatal(err)
	}
	tx := d.Begin(r, 1700000000000)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tx.Create(id(1), "frame"))
	must(tx.Create(id(2), "note"))
	must(tx.Set(id(2), "x", crdt.Number(12.5)))
	must(tx.Set(id(2), "color", crdt.String(str)))
	must(tx.Set(id(2), key, crdt.Bool(true)))
	v, err := crdt.JSONValue([]byte(`{"el":"x","anchor":[0.5,1e-7],"s":"\u2028<&>"}`))
	must(err)
	must(tx.Set(id(2), "from", v))
	must(tx.InsertText(id(2), "text", 0, text))
	must(tx.Vote(id(2), "vote", "user-1", crdt.Number(2)))
	must(tx.Vote(id(2), "react", "user-2", crdt.String("👍")))
	must(tx.Vote(id(2), "vote", "user-3", crdt.Number(1)))
	must(tx.Vote(id(2), "vote", "user-4", crdt.Null())) // withdrawn: not written
	must(tx.Move(id(2), id(1), "a0V"))
	must(tx.Create(id(3), "shape"))
	must(tx.Delete(id(3)))
	must(tx.Create(id(4), "mindmap"))
	if _, ok := tx.Commit(); !ok {
		t.Fatal("nothing committed")
	}
	return d
}

func elements(d *crdt.Doc) []crdt.ElementJSON {
	var out []crdt.ElementJSON
	for _, e := range d.Elements() {
		j, ok := d.ElementJSON(e)
		if ok {
			out = append(out, j)
		}
	}
	return out
}

func TestSameAsEncodingJSON(t *testing.T) {
	d := board(t, "line one\nline \"two\"\t\\ \x01 é 漢字 👍", "weird \"key\"\n", "#ff00aa")
	list := elements(d)
	if len(list) != 4 {
		t.Fatalf("%d elements", len(list))
	}
	want, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	same(t, AppendDoc(nil, d, nil), want)
	var p crdt.ElementParts
	for i := range list {
		w, _ := json.Marshal(list[i])
		if !d.ReadElement(list[i].ID, &p) {
			t.Fatalf("element %s not read", list[i].ID)
		}
		same(t, Append(nil, &p), w)
	}
	if got := string(AppendDoc(nil, crdt.NewDoc(), nil)); got != "[]" {
		t.Fatalf("empty doc: %s", got)
	}
	// Some ids, one of them never created.
	w, _ := json.Marshal([]crdt.ElementJSON{list[2], list[0]})
	same(t, AppendDoc(nil, d, []crdt.ElementID{list[2].ID, id(99), list[0].ID}), w)
}

func TestStringEscapes(t *testing.T) {
	for _, s := range []string{"", "plain", "\"", "\\", "\x00\x1f\x7f", "\xff\xfe bad", "a\u2028b", "<script>", "é\xc3"} {
		w, _ := json.Marshal(s)
		same(t, AppendString(nil, s), w)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00", "\xff", "漢字", "\\u0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, _ := json.Marshal(s)
		same(t, AppendString(nil, s), w)
	})
}

func FuzzAppend(f *testing.F) {
	f.Add("hello", "k", "yellow")
	f.Add("\x00\"\\", "\n", "\xff")
	f.Fuzz(func(t *testing.T, text, key, str string) {
		if key == "" || len(key) > 100 || len(text) > 1000 || !utf8.ValidString(text) || !utf8.ValidString(key) || !utf8.ValidString(str) {
			return // the CRDT refuses these (malformed input): nothing to encode
		}
		d := board(t, text, key, str)
		list := elements(d)
		want, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		same(t, AppendDoc(nil, d, nil), want)
	})
}

// FuzzAppendValue checks AppendValue against the value's own JSON
// (crdt.Value.AppendJSON) for numbers and strings, read back as JSON.
func FuzzAppendValue(f *testing.F) {
	for _, n := range []float64{0, 1, -1, 12.5, 1e15, 1e15 - 1, -1e15 + 1, 1e21, 1e-7, 123456789012345, -0.5} {
		f.Add(n, "s")
	}
	f.Add(math.Copysign(0, -1), "<&>\u2028\"")
	f.Fuzz(func(t *testing.T, n float64, s string) {
		if !math.IsNaN(n) && !math.IsInf(n, 0) {
			v := crdt.Number(n)
			got, want := AppendValue(nil, v), v.AppendJSON(nil)
			same(t, got, want)
			var g float64
			if err := json.Unmarshal(got, &g); err != nil || math.Signbit(g) != math.Signbit(n) {
				t.Fatalf("%v: got %s", n, got)
			}
		}
		if utf8.ValidString(s) {
			v := crdt.String(s)
			same(t, AppendValue(nil, v), v.AppendJSON(nil))
		}
	})
}
