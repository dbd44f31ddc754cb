package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

func FuzzDecodeChange(f *testing.F) {
	c := sampleChange()
	f.Add(c.AppendBinary(nil))
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeChange(data)
		if err != nil {
			return
		}
		// Whatever decodes is valid and survives a round trip unchanged.
		if err := c.Validate(); err != nil {
			t.Fatalf("decoded an invalid change: %v", err)
		}
		b := c.AppendBinary(nil)
		c2, err := DecodeChange(b)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip: %v", err)
		}
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var c3 Change
		if err := json.Unmarshal(j, &c3); err != nil || !reflect.DeepEqual(c, c3) {
			t.Fatalf("JSON round trip: %v\n%s", err, j)
		}
		// Applying it to a fresh doc never panics.
		NewDoc().Apply(c)
	})
}

// FuzzDecodeChangeInto decodes into a buffer full of ops of every type
// with every field set: whatever decodes must pass the full Validate, as
// the decoder's own check skips what it takes the decoding to ensure.
func FuzzDecodeChangeInto(f *testing.F) {
	c := sampleChange()
	f.Add(c.AppendBinary(nil))
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0})
	var junk Op
	junk.Element[0] = 1
	junk.Key, junk.Value, junk.Deleted, junk.Text, junk.Pos, junk.Voter = "k", String("\xff"), true, "\xff", "zz", "\xff"
	junk.Left, junk.Right, junk.Target, junk.Count, junk.Parent = OpID{1, 1}, OpID{2, 0}, OpID{3, 3}, 4, ElementID{5}
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := make([]Op, 64)
		for i := range buf {
			buf[i] = junk
			buf[i].Type = OpType(1 + i%int(opTypeEnd-1))
		}
		c, err := DecodeChangeInto(data, buf)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("decoded an invalid change into a used buffer: %v", err)
		}
		d, err := DecodeChange(data)
		if err != nil || !reflect.DeepEqual(c, d) {
			t.Fatalf("DecodeChangeInto and DecodeChange differ: %v", err)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	c := sampleChange()
	f.Add(EncodeBatch([]Change{c, c}))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := DecodeBatch(data)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeBatch(cs), EncodeBatch(mustDecodeBatch(t, EncodeBatch(cs)))) {
			t.Fatal("batch round trip")
		}
	})
}

func mustDecodeBatch(t *testing.T, b []byte) []Change {
	cs, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func FuzzChangeJSON(f *testing.F) {
	j, _ := json.Marshal(sampleChange())
	f.Add(j)
	f.Add([]byte(`{"replica":"0000000000000001","start":1,"time":{"ms":1,"l":0},"ops":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Change
		if err := json.Unmarshal(data, &c); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("JSON decoded an invalid change: %v", err)
		}
		c2, err := DecodeChange(c.AppendBinary(nil))
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("binary round trip of JSON change: %v", err)
		}
	})
}

func FuzzLoadSnapshot(f *testing.F) {
	s := newSim(f, 7, 2)
	s.run(80)
	f.Add(s.reps[0].doc.Snapshot())
	f.Add(NewDoc().Snapshot())
	f.Add([]byte("S\x01"))
	f.Add(s.reps[0].doc.SnapshotRaw())
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := LoadSnapshot(data)
		// In steps (the web page's way), the same doc or the same error.
		sd, _, serr := stepLoad(t, data, 1+len(data)%97, 13)
		if fmt.Sprint(serr) != fmt.Sprint(err) {
			t.Fatalf("in steps: %v; in one call: %v", serr, err)
		}
		if err != nil {
			return
		}
		snap := d.Snapshot()
		if !bytes.Equal(sd.Snapshot(), snap) {
			t.Fatal("loaded in steps, a different doc")
		}
		d2, err := LoadSnapshot(snap)
		if err != nil {
			t.Fatalf("re-encoded snapshot does not load: %v", err)
		}
		if !bytes.Equal(d2.Snapshot(), snap) {
			t.Fatal("snapshot not stable")
		}
	})
}

// FuzzConvergence turns the input into a script of edits by three replicas,
// delivers everything in two different orders, and checks both ends agree.
func FuzzConvergence(f *testing.F) {
	f.Add([]byte("seed"), uint64(1))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 201, 202}, uint64(99))
	f.Fuzz(func(t *testing.T, script []byte, seed uint64) {
		if len(script) > 400 {
			script = script[:400]
		}
		s := newSim(t, seed, 3)
		// The script drives the random source: each byte picks the next
		// step, so the fuzzer explores interleavings.
		for _, b := range script {
			switch {
			case b < 110:
				s.localStep(s.reps[int(b)%3])
			case b < 250:
				s.deliverStep()
			default:
				r := s.reps[int(b)%3]
				s.cut[r.id] = !s.cut[r.id]
			}
		}
		s.run(0)
		s.checkFinal()
	})
}

func FuzzVersionVector(f *testing.F) {
	b, _ := VersionVector{1: 5, 99: 1 << 40}.MarshalBinary()
	f.Add(b)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v VersionVector
		if v.UnmarshalBinary(data) != nil {
			return
		}
		again, _ := v.MarshalBinary()
		if !bytes.Equal(again, data) {
			t.Fatalf("version vector has two encodings: %x vs %x", data, again)
		}
	})
}

func FuzzJSONValue(f *testing.F) {
	for _, s := range []string{`null`, `true`, `1.5`, `"x"`, `{"b":1,"a":[1,2]}`, `[1,{"z":null}]`, `1e400`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := JSONValue(data)
		if err != nil {
			return
		}
		if err := v.valid(); err != nil {
			t.Fatalf("JSONValue made an invalid value: %v", err)
		}
		// Canonical: its JSON parses back to the same value, and binary
		// round-trips too.
		v2, err := JSONValue(v.AppendJSON(nil))
		if err != nil || !v2.Equal(v) {
			t.Fatalf("JSON round trip of %s: %v", v, err)
		}
		r := reader{b: appendValue(nil, v)}
		v3, err := r.value()
		if err != nil || !v3.Equal(v) {
			t.Fatalf("binary round trip of %s: %v", v, err)
		}
	})
}
