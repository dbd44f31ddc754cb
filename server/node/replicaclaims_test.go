package node_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

func createOp(e crdt.ElementID) crdt.Op {
	return crdt.Op{Type: crdt.OpCreate, Element: e, Key: "note"}
}

// TestGuestReplicaClaimsBounded: guests of a public board, all from one
// address, each claim a new replica id with one small change (a record
// kept for good, and an entry in the board's version vector that every
// welcome carries and every returning client sends in its hello). Past
// the address's claims on the board, a new replica id's first changes are
// refused with rate_limited and nothing is claimed, while the connection
// stays open; a replica id already claimed writes on, and so does the
// address on another board.
func TestGuestReplicaClaimsBounded(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.HTTP.ReplicaClaimsPerIP = 3 })
	b := tn.createBoard(`{"name":"open"}`)
	u := tn.wsURL(b.Board.ID, "")
	var first *rawConn
	for i := range 3 {
		rep := crdt.ReplicaID(0x7100 + i)
		r := rawJoin(t, u, rep, nil)
		if r.welcome.Token == "" || r.welcome.User.Role != "editor" {
			t.Fatalf("want a guest editor, got %+v", r.welcome.User)
		}
		r.expectAck(r.send(change(rep, 1, createOp(elem(0x7100+i)))))
		if first == nil {
			first = r
		}
	}
	rep := crdt.ReplicaID(0x7200)
	r := rawJoin(t, u, rep, nil)
	seq := r.send(change(rep, 1, createOp(elem(0x7200))))
	if e := r.expectError(protocol.CodeRateLimited); e.Seq != seq || !strings.Contains(e.Message, "replica") {
		t.Fatalf("a fourth new replica id from one address: %+v; want rate_limited for batch %d", e, seq)
	}
	r.ping() // still open
	// Nothing was claimed or stored: the board's version has no entry of it.
	late := rawJoin(t, u, 0x7300, nil)
	if _, ok := late.welcome.Version[rep]; ok || len(late.welcome.Version) != 3 {
		t.Fatalf("board version after the refusal: %v; want the 3 first guests only", late.welcome.Version)
	}
	// A replica id claimed already is not counted: the first guest, back
	// with its token, writes on.
	back := rawJoin(t, tn.wsURL(b.Board.ID, first.welcome.Token), first.rep, late.welcome.Version)
	back.expectAck(back.send(change(first.rep, 2, setOp(elem(0x7100), "x", crdt.Number(1)))))
	// Another board's claims are its own.
	b2 := tn.createBoard(`{"name":"other"}`)
	o := rawJoin(t, tn.wsURL(b2.Board.ID, ""), rep, nil)
	o.expectAck(o.send(change(rep, 1, createOp(elem(0x7200)))))
}

// TestHelloOverMaxMessage: a hello is mostly its version vector, which
// grows with a board's writers; a hello bigger than the largest ops
// message (1 MiB) but within the hello's own bound (8 MiB) is welcomed,
// while a message after it is still held to 1 MiB, and a hello past 8 MiB
// is closed with 1009.
func TestHelloOverMaxMessage(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"many writers"}`)
	u := tn.wsURL(b.Board.ID, "")
	vector := func(n int) crdt.VersionVector {
		v := crdt.VersionVector{}
		for i := range n {
			v[crdt.ReplicaID(1<<40+i)] = uint64(i + 1)
		}
		return v
	}
	v := vector(100_000)
	size := len(protocol.JSON(protocol.Hello{Type: protocol.TypeHello, Replica: 0x8100, Version: v}))
	if size <= 1<<20 || size >= 8<<20 {
		t.Fatalf("hello of %d bytes: want one between 1 MiB and 8 MiB", size)
	}
	r := rawJoin(t, u, 0x8100, v)
	if r.welcome.Board != b.Board.ID {
		t.Fatalf("welcome %+v", r.welcome)
	}
	r.write(websocket.MessageText, []byte(`{"type":"ping","n":1`+strings.Repeat(" ", 1<<20)+`}`))
	r.expectClose(protocol.CloseTooBig)

	big := rawOpen(t, u, 0x8200)
	h, _ := json.Marshal(protocol.Hello{Type: protocol.TypeHello, Replica: 0x8200, Version: vector(400_000)})
	if len(h) <= 8<<20 {
		t.Fatalf("hello of %d bytes: want one past 8 MiB", len(h))
	}
	// Only the bound's worth and one byte more is sent: a node that
	// closes a connection with bytes it has not read resets it, and the
	// whole 11 MB hello failed its write so, one run in six. (The node
	// never parses it: its size refuses it first.)
	big.write(websocket.MessageText, h[:8<<20+1])
	big.expectClose(protocol.CloseTooBig)
}

// TestRESTReplicaClaimsBounded: a guest token is a writer of its own on
// the write API, and the node claimed a new replica id of the board for
// each, with no count of the address: a WebSocket open (no change sent)
// gave a token, and each token's one REST write grew the board's version
// vector. The address's new ids are counted there too: past the bound,
// 429 and nothing claimed.
func TestRESTReplicaClaimsBounded(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.HTTP.ReplicaClaimsPerIP = 3 })
	b := tn.createBoard(`{"name":"open"}`)
	u := tn.wsURL(b.Board.ID, "")
	statuses := []int{}
	for i := range 4 {
		r := rawJoin(t, u, crdt.ReplicaID(0x7400+i), nil) // no change: no claim
		res := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", r.welcome.Token, "application/json", []byte(`{"kind":"note","text":"hi"}`), nil)
		statuses = append(statuses, res.status)
	}
	if fmt.Sprint(statuses) != "[201 201 201 429]" {
		t.Fatalf("four guest tokens' first REST writes from one address: %v, want [201 201 201 429]", statuses)
	}
	late := rawJoin(t, u, 0x7500, nil)
	if len(late.welcome.Version) != 3 {
		t.Fatalf("board version after the refusal: %v; want 3 writers", late.welcome.Version)
	}
}
