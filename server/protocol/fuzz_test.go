package protocol_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// sampleChanges returns a few real changes made through a transaction, so
// the codecs see what clients send.
func sampleChanges(t testing.TB) []crdt.Change {
	t.Helper()
	d := crdt.NewDoc()
	var el crdt.ElementID
	el[0], el[15] = 0xab, 1
	var out []crdt.Change
	edit := func(fn func(tx *crdt.Tx) error) {
		tx := d.Begin(0x1234, 1700000000000)
		if err := fn(&tx); err != nil {
			t.Fatal(err)
		}
		c, ok := tx.Commit()
		if !ok {
			t.Fatal("empty change")
		}
		out = append(out, c)
	}
	edit(func(tx *crdt.Tx) error {
		if err := tx.Create(el, "note"); err != nil {
			return err
		}
		if err := tx.Set(el, "x", crdt.Number(12.5)); err != nil {
			return err
		}
		return tx.InsertText(el, "text", 0, "héllo")
	})
	edit(func(tx *crdt.Tx) error { return tx.DeleteText(el, "text", 1, 2) })
	edit(func(tx *crdt.Tx) error { return tx.Vote(el, "dot", "user-1", crdt.Number(2)) })
	return out
}

func encodeBinary(cs []crdt.Change) []byte {
	var b []byte
	for i := range cs {
		b = cs[i].AppendBinary(b)
	}
	return b
}

// frameJSON re-encodes the frame a ClientFrame holds.
func frameJSON(t *testing.T, f protocol.ClientFrame) []byte {
	t.Helper()
	switch {
	case f.Hello != nil:
		return protocol.JSON(f.Hello)
	case f.Ops != nil:
		return protocol.JSON(f.Ops)
	case f.Presence != nil:
		return protocol.JSON(f.Presence)
	case f.Ping != nil:
		return protocol.JSON(f.Ping)
	}
	t.Fatalf("decoded frame %q holds nothing", f.Type)
	return nil
}

func FuzzDecodeClientText(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","replica":"0000000000001234","version":{"0000000000001234":3},"name":"Ann","format":"json"}`,
		`{"type":"hello","replica":"00000000000000ff","version":{}}`,
		`{"type":"presence","data":{"cursor":[1,2],"sel":["a"]}}`,
		`{"type":"presence","data": { "x" : 1 } }`,
		`{"type":"ping","n":7}`,
		`{"type":"ping"}`,
		`{"type":"ops"}`,
		`{"type":"pong"}`,
		`{"type":"hello","replica":"0000000000000000"}`,
		`{"TYPE":"ping"}`,
		`[]`,
		`{"type":"ops","seq":1,"changes":[]}`,
		"",
		"{\"type\":\"presence\",\"data\":{\"k\":\"\xff\xfe\"}}",
		`{"type":"presence","data":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	ops := protocol.OpsJSON{Type: protocol.TypeOps, Seq: 9, Changes: sampleChanges(f)}
	f.Add(protocol.JSON(ops))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := protocol.DecodeClientText(b)
		if err != nil {
			if fr.Type != "" || fr.Hello != nil || fr.Ops != nil || fr.Presence != nil || fr.Ping != nil {
				t.Fatalf("error %v with a non-empty frame %+v", err, fr)
			}
			return
		}
		// Whatever decodes is valid UTF-8, and so is everything the node
		// builds from it for other clients (presence, welcome peers).
		if !utf8.Valid(b) {
			t.Fatalf("decoded invalid UTF-8 %q", b)
		}
		if fr.Presence != nil {
			out := protocol.JSON(protocol.Presence{Type: protocol.TypePresence, Peer: &protocol.Peer{Session: "s", Data: fr.Presence.Data}})
			if !utf8.Valid(out) || !json.Valid(out) {
				t.Fatalf("relayed presence %q is not valid UTF-8 JSON", out)
			}
		}
		enc := frameJSON(t, fr)
		fr2, err := protocol.DecodeClientText(enc)
		if err != nil {
			t.Fatalf("re-encoded frame %s does not decode: %v (input %q)", enc, err, b)
		}
		if fr2.Type != fr.Type {
			t.Fatalf("type %q became %q", fr.Type, fr2.Type)
		}
		if enc2 := frameJSON(t, fr2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
		switch {
		case fr.Hello != nil:
			h1, h2 := fr.Hello, fr2.Hello
			if h1.Replica != h2.Replica || h1.Name != h2.Name || h1.Color != h2.Color || h1.Format != h2.Format ||
				h1.Version.Compare(h2.Version) != crdt.Equal || len(h1.Version) != len(h2.Version) {
				t.Fatalf("hello changed: %+v -> %+v", h1, h2)
			}
		case fr.Ops != nil:
			if fr.Ops.Seq != fr2.Ops.Seq || !bytes.Equal(encodeBinary(fr.Ops.Changes), encodeBinary(fr2.Ops.Changes)) {
				t.Fatalf("ops changed: %s", enc)
			}
		case fr.Presence != nil:
			if !jsonEqual(fr.Presence.Data, fr2.Presence.Data) {
				t.Fatalf("presence data %s became %s", fr.Presence.Data, fr2.Presence.Data)
			}
		case fr.Ping != nil:
			if *fr.Ping != *fr2.Ping {
				t.Fatalf("ping %+v became %+v", fr.Ping, fr2.Ping)
			}
		}
	})
}

// jsonEqual compares raw JSON ignoring insignificant whitespace.
// jsonEqual says whether two JSON texts mean the same value: the same
// structure, strings and numbers (encoding/json escapes <, > and & when it
// re-encodes, so the bytes may differ).
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	decode := func(m json.RawMessage) (any, bool) {
		d := json.NewDecoder(bytes.NewReader(m))
		d.UseNumber()
		var v any
		return v, d.Decode(&v) == nil
	}
	x, okx := decode(a)
	y, oky := decode(b)
	return okx && oky && reflect.DeepEqual(x, y)
}

func FuzzDecodeOpsFrame(f *testing.F) {
	cs := sampleChanges(f)
	f.Add(protocol.EncodeOpsFrame(1, cs))
	f.Add(protocol.EncodeOpsFrame(1<<40, cs[:1]))
	full := protocol.EncodeOpsFrame(3, cs)
	f.Add(full[:len(full)-1])
	f.Add([]byte{protocol.TagOps})
	f.Add([]byte{protocol.TagOps, 0x80})
	f.Add([]byte{protocol.TagOpsOut, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, changes, err := protocol.DecodeOpsFrame(b)
		if err != nil {
			if changes != nil {
				t.Fatalf("error %v with %d changes", err, len(changes))
			}
			return
		}
		if len(changes) == 0 {
			t.Fatal("decoded a frame with no changes")
		}
		for i := range changes {
			if err := changes[i].Validate(); err != nil {
				t.Fatalf("decoded change %d does not validate: %v", i, err)
			}
		}
		enc := protocol.EncodeOpsFrame(seq, changes)
		seq2, changes2, err := protocol.DecodeOpsFrame(enc)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if seq2 != seq || !bytes.Equal(encodeBinary(changes), encodeBinary(changes2)) {
			t.Fatalf("round trip changed the frame: seq %d -> %d", seq, seq2)
		}
		if enc2 := protocol.EncodeOpsFrame(seq2, changes2); !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
	})
}

func TestDecodeClientText(t *testing.T) {
	long := strings.Repeat("n", protocol.MaxNameBytes+1)
	bigData := `"` + strings.Repeat("x", protocol.MaxPresenceBytes) + `"`
	cases := []struct {
		name string
		in   string
		typ  string // "" when an error is expected
		want string // part of the error
	}{
		{"hello", `{"type":"hello","replica":"0000000000000007","version":{"0000000000000007":2},"name":"Ann","color":"#ff0000"}`, "hello", ""},
		{"hello json format", `{"type":"hello","replica":"0000000000000007","format":"json"}`, "hello", ""},
		{"ops", `{"type":"ops","seq":4,"changes":[{"replica":"0000000000000007","start":1,"time":{"ms":5,"l":0},"ops":[{"op":"create","el":"01000000-0000-0000-0000-000000000000","kind":"note"}]}]}`, "ops", ""},
		{"presence", `{"type":"presence","data":{"cursor":[1,2]}}`, "presence", ""},
		{"ping", `{"type":"ping","n":3}`, "ping", ""},
		{"not json", `{"type":"ping"`, "", "bad frame"},
		{"not an object", `"ping"`, "", "bad frame"},
		{"unknown type", `{"type":"welcome"}`, "", "unknown type"},
		{"no type", `{"n":1}`, "", "unknown type"},
		{"unknown field", `{"type":"ping","n":1,"extra":true}`, "", "unknown field"},
		{"trailing data", `{"type":"ping"} {"type":"ping"}`, "", "bad frame"},
		{"hello without replica", `{"type":"hello","version":{}}`, "", "replica missing"},
		{"hello bad replica", `{"type":"hello","replica":"xyz"}`, "", "bad frame"},
		{"hello long name", `{"type":"hello","replica":"0000000000000007","name":"` + long + `"}`, "", "too long"},
		{"hello bad format", `{"type":"hello","replica":"0000000000000007","format":"xml"}`, "", "unknown format"},
		{"ops without changes", `{"type":"ops","seq":1,"changes":[]}`, "", "no changes"},
		{"ops with a bad change", `{"type":"ops","seq":1,"changes":[{"replica":"0000000000000007","start":0,"time":{"ms":5,"l":0},"ops":[]}]}`, "", "bad frame"},
		{"presence too big", `{"type":"presence","data":` + bigData + `}`, "", "presence"},
		{"presence with peer", `{"type":"presence","peer":{"session":"s","replica":"0000000000000007","user":"u","name":"n"}}`, "", "peer set"},
		{"presence invalid utf-8", "{\"type\":\"presence\",\"data\":{\"k\":\"\xff\xfe\"}}", "", "UTF-8"},
		{"presence invalid utf-8 key", "{\"type\":\"presence\",\"data\":{\"\xc3\":1}}", "", "UTF-8"},
		{"presence surrogate bytes", "{\"type\":\"presence\",\"data\":\"\xed\xa0\x80\"}", "", "UTF-8"},
		{"hello invalid utf-8 name", "{\"type\":\"hello\",\"replica\":\"0000000000000007\",\"name\":\"\xff\"}", "", "UTF-8"},
		{"ping invalid utf-8 after", "{\"type\":\"ping\"}\xff", "", "UTF-8"},
		{"presence escaped non-ascii", `{"type":"presence","data":{"k":"\u00e9\ud83d\ude00 é"}}`, "presence", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := protocol.DecodeClientText([]byte(c.in))
			if c.typ == "" {
				if err == nil {
					t.Fatalf("decoded %q, want an error containing %q", c.in, c.want)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %q does not contain %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if f.Type != c.typ {
				t.Fatalf("type %q, want %q", f.Type, c.typ)
			}
			set := 0
			for _, p := range []bool{f.Hello != nil, f.Ops != nil, f.Presence != nil, f.Ping != nil} {
				if p {
					set++
				}
			}
			if set != 1 {
				t.Fatalf("%d frame fields set, want 1", set)
			}
		})
	}
	// Field values come through.
	f, err := protocol.DecodeClientText([]byte(cases[0].in))
	if err != nil {
		t.Fatal(err)
	}
	if f.Hello.Replica != 7 || f.Hello.Version[7] != 2 || f.Hello.Name != "Ann" || f.Hello.Color != "#ff0000" {
		t.Fatalf("hello = %+v", f.Hello)
	}
}

func TestOpsFrameCodec(t *testing.T) {
	cs := sampleChanges(t)
	good := protocol.EncodeOpsFrame(300, cs)
	seq, got, err := protocol.DecodeOpsFrame(good)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 300 || !bytes.Equal(encodeBinary(got), encodeBinary(cs)) {
		t.Fatalf("round trip: seq %d, %d changes", seq, len(got))
	}
	bad := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"wrong tag", append([]byte{0x07}, good[1:]...)},
		{"node's tag", append([]byte{protocol.TagOpsOut}, good[1:]...)},
		{"no seq", []byte{protocol.TagOps}},
		{"seq overflows", append([]byte{protocol.TagOps}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"no batch", protocol.EncodeOpsFrame(1, nil)[:2]},
		{"empty batch", protocol.EncodeOpsFrame(1, nil)},
		{"truncated", good[:len(good)-1]},
		{"truncated in the middle", good[:len(good)/2]},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"count says more", append([]byte{protocol.TagOps, 1}, binary.AppendUvarint(nil, uint64(len(cs)+1))...)},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, ch, err := protocol.DecodeOpsFrame(c.in); err == nil {
				t.Fatalf("decoded %x into %d changes, want an error", c.in, len(ch))
			}
		})
	}
}

func TestOpsOutCodec(t *testing.T) {
	cs := sampleChanges(t)
	var enc [][]byte
	for i := range cs {
		enc = append(enc, cs[i].AppendBinary(nil))
	}
	msg := protocol.EncodeOpsOut(enc)
	if msg[0] != protocol.TagOpsOut {
		t.Fatalf("tag %#x", msg[0])
	}
	got, err := protocol.DecodeOpsOut(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodeBinary(got), encodeBinary(cs)) {
		t.Fatal("ops out round trip changed the changes")
	}
	// The node's message body is exactly a crdt batch (the bus carries it).
	if !bytes.Equal(msg[1:], crdt.EncodeBatch(cs)) {
		t.Fatal("ops out body is not a crdt batch")
	}
	for _, b := range [][]byte{nil, {protocol.TagOps, 0}, msg[:len(msg)-1]} {
		if _, err := protocol.DecodeOpsOut(b); err == nil {
			t.Fatalf("DecodeOpsOut(%x) succeeded", b)
		}
	}
}

func TestJSONFrames(t *testing.T) {
	a := protocol.Ack{Type: protocol.TypeAck, Seq: 5, Applied: 2, Duplicate: 1}
	var back protocol.Ack
	if err := protocol.Unmarshal(protocol.JSON(a), &back); err != nil || back != a {
		t.Fatalf("ack round trip: %+v, %v", back, err)
	}
	e := protocol.Error{Type: protocol.TypeError, Code: protocol.CodeSchema, Message: "m", Seq: 3}
	if got := string(protocol.JSON(e)); got != `{"type":"error","code":"schema","message":"m","seq":3}` {
		t.Fatalf("error frame = %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("JSON of an unencodable value did not panic")
		}
	}()
	protocol.JSON(func() {})
}

func TestCloseTable(t *testing.T) {
	seen := map[int]bool{}
	for _, c := range protocol.CloseTable {
		if seen[int(c.Code)] {
			t.Fatalf("close code %d listed twice", c.Code)
		}
		seen[int(c.Code)] = true
		var want string
		switch {
		case c.Code >= 4000 && c.Code < 4100:
			want = "reconnect"
		case c.Code >= 4100 && c.Code < 4200:
			want = "terminal"
		}
		if want != "" && c.Class != want {
			t.Errorf("code %d in class %q, its range says %q", c.Code, c.Class, want)
		}
	}
	for _, code := range []int{1000, 1001, 1008, 1009, 4000, 4001, 4002, 4100, 4101, 4102, 4103, 4104} {
		if !seen[code] {
			t.Errorf("close code %d missing from the table", code)
		}
	}
}
