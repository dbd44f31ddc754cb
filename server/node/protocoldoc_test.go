package node_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// Rules of docs/PROTOCOL.md checked against a real node: the shape of GET
// /state (docs/vectors/state.json), held versus invalid_op, and the answer
// to a token for another board.

var rewriteState = flag.Bool("rewrite", false, "rewrite docs/vectors/state.json from a real node")

const stateVectorFile = "../../docs/vectors/state.json"

// stateVector is docs/vectors/state.json: JSON ops frames that one
// replica sends, in order, to a new board as its owner, and the node's
// GET /state answer after them. The owner's user id is random; the file
// writes it as docUser.
type stateVector struct {
	About   string            `json:"about"`
	Replica crdt.ReplicaID    `json:"replica"`
	Frames  []json.RawMessage `json:"frames"`
	State   json.RawMessage   `json:"state"`
}

const docUser = "user-ktN5QJI03wV-"

func TestStateVector(t *testing.T) {
	if *rewriteState {
		writeStateVector(t)
	}
	raw, err := os.ReadFile(stateVectorFile)
	if err != nil {
		t.Fatal(err)
	}
	var v stateVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	got := stateAfter(t, v)
	var want bytes.Buffer
	if err := json.Compact(&want, v.State); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("GET /state answers\n%s\nwant\n%s", got, want.Bytes())
	}
}

// stateAfter sends v's frames to a fresh board on a real node and returns
// its GET /state body, with the owner's user id written as docUser.
func stateAfter(t *testing.T, v stateVector) []byte {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"state"}`)
	c := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), v.Replica, nil)
	user := c.welcome.User.ID
	for _, f := range v.Frames {
		f = bytes.ReplaceAll(f, []byte(docUser), []byte(user))
		var ops protocol.OpsJSON
		if err := json.Unmarshal(f, &ops); err != nil {
			t.Fatal(err)
		}
		c.write(websocket.MessageText, f)
		if ack := c.expectAck(ops.Seq); ack.Applied != len(ops.Changes) {
			t.Fatalf("frame %d: %+v", ops.Seq, ack)
		}
	}
	return bytes.ReplaceAll(tn.state(b.Board.ID, b.Token), []byte(user), []byte(docUser))
}

func writeStateVector(t *testing.T) {
	v := stateVector{
		About: "Frames one replica sends to a new board as its owner, and GET /state after them " +
			"(the owner's user id written as " + docUser + "): an element never moved (no parent, no pos), " +
			"one moved to the root at a0, one under a parent, one moved with no position (pos absent), a deleted one, " +
			"a property written null, a text field whose characters are all deleted (\"\"), a vote and a withdrawn one (absent).",
		Replica: 0x3f9a1c0d5e7b2468,
	}
	frame := func(s string) {
		var c bytes.Buffer
		if err := json.Compact(&c, []byte(s)); err != nil {
			t.Fatal(err)
		}
		v.Frames = append(v.Frames, json.RawMessage(c.String()))
	}
	frame(`{"type": "ops", "seq": 1, "changes": [
	 {"replica": "3f9a1c0d5e7b2468", "start": 1, "time": {"ms": 1795396900000, "l": 0},
	  "ops": [
	   {"op": "create", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "kind": "note"},
	   {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "x", "value": 120},
	   {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "color", "value": "yellow"},
	   {"op": "set", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "fontSize", "value": null},
	   {"op": "insert_text", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "field": "text", "text": "Hi ☕"},
	   {"op": "move", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "pos": "a0"},
	   {"op": "vote", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b", "key": "vote", "voter": "user-ktN5QJI03wV-", "value": 2}]}]}`)
	frame(`{"type": "ops", "seq": 2, "changes": [
	 {"replica": "3f9a1c0d5e7b2468", "start": 11, "time": {"ms": 1795396901000, "l": 0},
	  "ops": [
	   {"op": "create", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a10", "kind": "mindmap"},
	   {"op": "create", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a11", "kind": "mindmap"},
	   {"op": "move", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a11", "parent": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a10", "pos": "a0"},
	   {"op": "move", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a10"},
	   {"op": "insert_text", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a11", "field": "text", "text": "gone"}]},
	 {"replica": "3f9a1c0d5e7b2468", "start": 19, "time": {"ms": 1795396902000, "l": 0},
	  "ops": [
	   {"op": "delete_text", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a11", "field": "text", "target": "15@3f9a1c0d5e7b2468", "count": 4},
	   {"op": "create", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a01", "kind": "shape"},
	   {"op": "delete", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a01", "deleted": true},
	   {"op": "vote", "el": "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a10", "key": "vote", "voter": "user-ktN5QJI03wV-", "value": 0}]}]}`)
	v.State = json.RawMessage(`{}`)
	got := stateAfter(t, v)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	v.State = pretty.Bytes()
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateVectorFile, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHeldOrInvalidOp checks the rule of PROTOCOL 5.5: a text origin the
// node has never seen (its op id is beyond the node's version vector) is a
// missing dependency, and the change is stored and held; an origin the
// node has seen that is not a character of that field is invalid_op, and
// the change is refused, with the batch's seq and accepted.
func TestHeldOrInvalidOp(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"held"}`)
	a := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 0xa1, nil)
	note, other := elem(1), elem(2)
	ack := a.expectAck(a.send(change(0xa1, 1,
		crdt.Op{Type: crdt.OpCreate, Element: note, Key: "note"},
		crdt.Op{Type: crdt.OpCreate, Element: other, Key: "note"},
		crdt.Op{Type: crdt.OpInsertText, Element: other, Key: "text", Text: "xy"})))
	if ack.Applied != 1 {
		t.Fatalf("setup: %+v", ack)
	}
	// Counter 3 of 0xa1 is the 'x' of other's text: known to the node,
	// but not in note's field. Refused, after the batch's first change.
	first := change(0xa1, 5, crdt.Op{Type: crdt.OpSet, Element: note, Key: "x", Value: crdt.Number(1)})
	bad := change(0xa1, 6, crdt.Op{Type: crdt.OpInsertText, Element: note, Key: "text", Text: "!",
		Left: crdt.OpID{Replica: 0xa1, Counter: 3}})
	seq := a.send(first, bad)
	e := a.expectError(protocol.CodeInvalidOp)
	if e.Seq != seq || e.Accepted != 1 {
		t.Fatalf("invalid_op error %+v: want seq %d and accepted 1", e, seq)
	}
	// Character 1 of replica 0xb2, which the node has not seen: held.
	b2 := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 0xb2, nil)
	wait := change(0xa1, 6, crdt.Op{Type: crdt.OpInsertText, Element: note, Key: "text", Text: "!",
		Left: crdt.OpID{Replica: 0xb2, Counter: 1}})
	if ack := a.expectAck(a.send(wait)); ack.Held != 1 || ack.Applied != 0 {
		t.Fatalf("unknown origin: ack %+v, want held 1", ack)
	}
	// Once 0xb2's character comes, the held change applies after it.
	if ack := b2.expectAck(b2.send(change(0xb2, 1,
		crdt.Op{Type: crdt.OpInsertText, Element: note, Key: "text", Text: "Hi"}))); ack.Applied != 1 {
		t.Fatalf("dependency: ack %+v", ack)
	}
	var st struct {
		Version  crdt.VersionVector `json:"version"`
		Elements []crdt.ElementJSON `json:"elements"`
	}
	if err := json.Unmarshal(tn.state(b.Board.ID, b.Token), &st); err != nil {
		t.Fatal(err)
	}
	if st.Version[0xa1] != 6 || st.Elements[0].ID != note || st.Elements[0].Text["text"] != "H!i" {
		t.Fatalf("after the dependency: %+v", st)
	}
}

// TestTokenForAnotherBoard: PROTOCOL section 1 and API.md answer a token
// signed for another board with 401 unauthorized, on the WebSocket upgrade
// and on REST alike.
func TestTokenForAnotherBoard(t *testing.T) {
	tn := startNode(t, nil)
	one := tn.createBoard(`{"name":"one","access":"private"}`)
	two := tn.createBoard(`{"name":"two"}`)
	for _, board := range []string{one.Board.ID, two.Board.ID} {
		tok := one.Token
		if board == one.Board.ID {
			tok = two.Token
		}
		_, resp, err := wsDial(t, tn.wsURL(board, tok), nil, protocol.Subprotocol)
		httpError(t, resp, err, 401, protocol.CodeUnauthorized)
		code, body := tn.get("/v1/boards/" + board + "/state?token=" + tok)
		if code != 401 || !strings.Contains(string(body), `"code":"unauthorized"`) || !strings.Contains(string(body), "another board") {
			t.Fatalf("GET /state with another board's token: %d %s", code, body)
		}
	}
}

// TestRefusedFrameVectors sends the refused frames of
// docs/vectors/frames.json to a real node: each is answered by an error
// frame with the code and the seq (or none) the file says, and the
// connection stays open (PROTOCOL 7, "Where each check happens").
func TestRefusedFrameVectors(t *testing.T) {
	raw, err := os.ReadFile("../../docs/vectors/frames.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Refused []struct {
			Name   string          `json:"name"`
			Text   json.RawMessage `json:"text"`
			Binary string          `json:"binary"`
			Code   protocol.Code   `json:"code"`
			Seq    uint64          `json:"seq"`
		} `json:"refused"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Refused) == 0 {
		t.Fatal("no refused frames")
	}
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"refused"}`)
	c := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 0x3f9a1c0d5e7b2468, nil)
	for _, v := range f.Refused {
		if v.Binary != "" {
			data, err := hex.DecodeString(v.Binary)
			if err != nil {
				t.Fatal(err)
			}
			c.write(websocket.MessageBinary, data)
		} else {
			c.write(websocket.MessageText, v.Text)
		}
		e := c.expectError(v.Code)
		if e.Seq != v.Seq || e.Accepted != 0 {
			t.Errorf("%s: error %+v, want seq %d and nothing accepted", v.Name, e, v.Seq)
		}
	}
	c.ping()
	if st := tn.state(b.Board.ID, b.Token); !bytes.Equal(st, []byte(`{"version":{},"elements":[]}`)) {
		t.Fatalf("refused frames changed the board: %s", st)
	}
}
