package protocol_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// docs/vectors/frames.json: client ops frames in their JSON form with the
// bytes of the same frame in binary form (tag 0x01) and of the node's form
// (tag 0x02), and frames the node refuses when it decodes them, with
// whether the error frame carries the batch's seq. TestFrameVectors checks
// the checked-in file against this package; -rewrite makes it again from
// the cases below (read the diff).
var rewrite = flag.Bool("rewrite", false, "rewrite docs/vectors/frames.json")

const framesFile = "../../docs/vectors/frames.json"

type frameVector struct {
	Name   string          `json:"name"`
	Text   json.RawMessage `json:"text"`   // the JSON ops frame
	Binary string          `json:"binary"` // hex: 0x01 · seq · batch
	Out    string          `json:"out"`    // hex: 0x02 · batch, as other sessions get it
}

type refusedVector struct {
	Name   string          `json:"name"`
	Text   json.RawMessage `json:"text,omitempty"`   // a text frame, or
	Binary string          `json:"binary,omitempty"` // a binary frame (hex)
	Code   protocol.Code   `json:"code"`
	Seq    uint64          `json:"seq,omitempty"` // the error's seq; absent: none
}

type framesVectors struct {
	Frames  []frameVector   `json:"frames"`
	Refused []refusedVector `json:"refused"`
}

func TestFrameVectors(t *testing.T) {
	if *rewrite {
		writeFrameVectors(t)
	}
	raw, err := os.ReadFile(framesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f framesVectors
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	if len(f.Frames) == 0 || len(f.Refused) == 0 {
		t.Fatal("frames.json is missing vectors")
	}
	for _, v := range f.Frames {
		fr, err := protocol.DecodeClientText(v.Text)
		if err != nil || fr.Ops == nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if got := hex.EncodeToString(protocol.EncodeOpsFrame(fr.Ops.Seq, fr.Ops.Changes)); got != v.Binary {
			t.Errorf("%s: binary\n%s, want\n%s", v.Name, got, v.Binary)
		}
		b, _ := hex.DecodeString(v.Binary)
		seq, changes, err := protocol.DecodeOpsFrame(b)
		if err != nil || seq != fr.Ops.Seq {
			t.Fatalf("%s: decoding the binary frame: seq %d, %v", v.Name, seq, err)
		}
		if a, b := protocol.JSON(changes), protocol.JSON(fr.Ops.Changes); !bytes.Equal(a, b) {
			t.Errorf("%s: the binary frame decodes to\n%s, want\n%s", v.Name, a, b)
		}
		var enc [][]byte
		for i := range changes {
			enc = append(enc, changes[i].AppendBinary(nil))
		}
		if got := hex.EncodeToString(protocol.EncodeOpsOut(enc)); got != v.Out {
			t.Errorf("%s: node form\n%s, want\n%s", v.Name, got, v.Out)
		}
	}
	for _, v := range f.Refused {
		code, seq := decodeRefusal(t, v)
		if code != v.Code || seq != v.Seq {
			t.Errorf("%s: refused as %q with seq %d, want %q with seq %d", v.Name, code, seq, v.Code, v.Seq)
		}
	}
}

// decodeRefusal decodes a frame as the node's reader does (gateway.readLoop)
// and returns the error code and seq it answers ("" if the frame decodes).
func decodeRefusal(t *testing.T, v refusedVector) (protocol.Code, uint64) {
	if v.Binary != "" {
		b, err := hex.DecodeString(v.Binary)
		if err != nil {
			t.Fatal(err)
		}
		seq, _, err := protocol.DecodeOpsFrame(b)
		if err != nil {
			return protocol.CodeMalformed, seq
		}
		return "", seq
	}
	if _, err := protocol.DecodeClientText(v.Text); err != nil {
		return protocol.CodeMalformed, 0
	}
	return "", 0
}

func writeFrameVectors(t *testing.T) {
	rep, _ := crdt.ParseReplicaID("3f9a1c0d5e7b2468")
	note, _ := crdt.ParseElementID("0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b")
	ts := crdt.MakeTimestamp(1795396900000, 0)
	frame := func(name string, seq uint64, changes ...crdt.Change) frameVector {
		text := protocol.JSON(protocol.OpsJSON{Type: protocol.TypeOps, Seq: seq, Changes: changes})
		var enc [][]byte
		for i := range changes {
			enc = append(enc, changes[i].AppendBinary(nil))
		}
		return frameVector{Name: name, Text: text, Binary: hex.EncodeToString(protocol.EncodeOpsFrame(seq, changes)),
			Out: hex.EncodeToString(protocol.EncodeOpsOut(enc))}
	}
	parse := func(s string) crdt.Change {
		var c crdt.Change
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := crdt.Change{Replica: rep, Start: 1, Time: ts, Ops: []crdt.Op{
		{Type: crdt.OpCreate, Element: note, Key: "note"},
		{Type: crdt.OpSet, Element: note, Key: "x", Value: crdt.Number(120)},
		{Type: crdt.OpSet, Element: note, Key: "y", Value: crdt.Number(80.5)},
		{Type: crdt.OpSet, Element: note, Key: "color", Value: crdt.String("yellow")},
		{Type: crdt.OpInsertText, Element: note, Key: "text", Text: "Hi ☕"},
	}}
	example := parse(`{"replica": "3f9a1c0d5e7b2468", "start": 13, "time": {"ms": 1795396905000, "l": 0},
	 "ops": [
	  {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "w", "value": 240.5},
	  {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "x", "value": -3},
	  {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "ratio", "value": 3.141592653589793},
	  {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "pinned", "value": true},
	  {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "tags", "value": ["idea", "q3"]},
	  {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "fontSize", "value": null},
	  {"op": "insert_text", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "field": "text",
	   "left": "9@3f9a1c0d5e7b2468", "text": "ok"},
	  {"op": "delete", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "deleted": true}]}`)
	move := parse(`{"replica": "3f9a1c0d5e7b2468", "start": 11, "time": {"ms": 1795396904000, "l": 0},
	 "ops": [
	  {"op": "move", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "pos": "a0"},
	  {"op": "delete_text", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "field": "text", "target": "7@3f9a1c0d5e7b2468", "count": 2}]}`)
	f := framesVectors{Frames: []frameVector{
		frame("create a note (PROTOCOL section 4)", 1, first),
		frame("the change of PROTOCOL section 5.4, seq 6", 6, example),
		frame("two changes in one batch", 300, move, example),
	}}
	good := string(protocol.JSON(protocol.OpsJSON{Type: protocol.TypeOps, Seq: 7, Changes: []crdt.Change{first}}))
	f.Refused = []refusedVector{
		{Name: "JSON frame with a malformed change: no seq", Code: protocol.CodeMalformed,
			Text: json.RawMessage(bytes.Replace([]byte(good), []byte(`"kind":"note"`), []byte(`"kind":""`), 1))},
		{Name: "JSON frame with an unknown field: no seq", Code: protocol.CodeMalformed,
			Text: json.RawMessage(bytes.Replace([]byte(good), []byte(`"seq":7`), []byte(`"seq":7,"extra":1`), 1))},
		{Name: "JSON frame with no changes: no seq", Code: protocol.CodeMalformed,
			Text: json.RawMessage(`{"type":"ops","seq":7,"changes":[]}`)},
		{Name: "binary frame with a move to an invalid position key: seq 7", Code: protocol.CodeMalformed, Seq: 7,
			Binary: hex.EncodeToString(protocol.EncodeOpsFrame(7, []crdt.Change{posKey(move, "a00")}))},
		{Name: "binary frame with trailing bytes: seq 7", Code: protocol.CodeMalformed, Seq: 7,
			Binary: hex.EncodeToString(append(protocol.EncodeOpsFrame(7, []crdt.Change{move}), 0))},
		{Name: "binary frame with a bad tag: no seq", Code: protocol.CodeMalformed,
			Binary: hex.EncodeToString(append([]byte{protocol.TagOpsOut}, protocol.EncodeOpsFrame(7, []crdt.Change{move})[1:]...))},
		{Name: "binary frame cut inside its seq: no seq", Code: protocol.CodeMalformed, Binary: "01ff"},
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(framesFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// posKey returns c with the position key of its first op set to pos,
// bypassing validation, so the vector holds the bytes a faulty client
// would send.
func posKey(c crdt.Change, pos string) crdt.Change {
	ops := append([]crdt.Op(nil), c.Ops...)
	ops[0].Pos = pos
	c.Ops = ops
	return c
}
